"""Where the benchmarks run: their own PostgreSQL database and Redis DB, never the tests' ones.

``configure()`` must run before Django is imported by anything else; the core
functions of every benchmark take whatever database and Redis Django is set
up with, so the test suite can run them against its own test database.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://kickbench:kickbench@127.0.0.1:5432/kickbench_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"


def _ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist (connecting to the server's 'postgres' db)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure(*, migrate: bool = True) -> None:
    """Point Django at BENCH_DATABASE_URL / BENCH_REDIS_URL, set it up and migrate."""
    db_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    os.environ["DATABASE_URL"] = db_url
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _ensure_database(db_url)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def database_url() -> str:
    """The URL of the database Django is connected to, for child processes."""
    from django.db import connection

    db = connection.settings_dict
    return (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}")


def machine() -> dict[str, str]:
    """nproc, RAM and CPU model, for the README table."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {"nproc": str(os.cpu_count()), "ram": f"{kb / 1024 / 1024:.1f} GiB", "cpu": cpu,
            "python": platform.python_version(), "postgres_client": pg}

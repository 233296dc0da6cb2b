"""The worker class: what a plain ``rqworker`` runs, and what its work horses inherit instead of importing."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django_rq.workers import get_worker_class
from redis import Redis
from config.worker import PRELOADED_MODULES
before = "scipy" in sys.modules
worker = get_worker_class()(["backfill"], connection=Redis())
print(json.dumps({
    "class": f"{type(worker).__module__}.{type(worker).__name__}",
    "scipy_before": before,
    "scipy_after": "scipy" in sys.modules,
    "missing": [m for m in PRELOADED_MODULES if m not in sys.modules],
}))
"""


def test_plain_rqworker_uses_django_worker_which_preloads_the_job_modules_before_forking():
    """Each job runs in a fork of the worker: whatever the worker imported, the job does not import
    again (scipy alone cost 0.75 CPU-seconds per predict job, the backfill's bottleneck)."""
    env = {**os.environ, "DATABASE_URL": "sqlite:///:memory:"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["class"] == "config.worker.DjangoWorker"
    assert probe["scipy_before"] is False
    assert probe["scipy_after"] is True
    assert probe["missing"] == []

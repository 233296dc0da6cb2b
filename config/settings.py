"""One settings module, read from the environment (django-environ).

Defaults run locally with nothing installed: SQLite in ``var/`` and, with
``REDIS_URL`` unset, jobs executed in-process. Production differs only by
environment variables.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _parse_duration(text: str, name: str = "a duration") -> timedelta:
    """``90`` (seconds), ``90s``, ``45m``, ``1.5h`` or ``7d``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise ImproperlyConfigured(f"{name}={text!r} is not a duration: use seconds, or a number with s, m, h or d")
    return timedelta(seconds=float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]])


def _duration(name: str, default: str) -> timedelta:
    """A duration setting read from the environment variable ``name``."""
    return _parse_duration(env(name, default=default), name)


if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "matches",
    "predictions",
    "backfill",
    "pipeline",
    # The chaos demo (scripts/demo --chaos): an entry point over pipeline and backfill.
    "chaos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files with DEBUG=False too (no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.QueueDashboardPermissionMiddleware",
    "config.middleware.QueueDashboardUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# The embedded default is a SQLite file; PostgreSQL (psycopg 3) everywhere else.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Jobs run in-process with the embedded default; give concurrent writers time.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A deferred transaction that reads, then writes, fails at once ("database is locked") when another
    # connection (the run's heartbeat thread, the admin's background run) writes in between: the busy
    # timeout cannot help a lock upgrade. IMMEDIATE takes the write lock at BEGIN, so writers queue.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # The covering index's INCLUDE columns are a PostgreSQL optimisation; SQLite just builds the key.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Our queries are short; PostgreSQL's JIT, triggered by plan cost alone, spent 300-400 ms compiling a
    # 365-day gap query that runs in ~300 ms (README, "Gap detection"). Off per connection, not per server.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

# The admin's background run process uses its parent's database, whatever name the parent's
# settings ended up with (a test database, for one).
if env("KICKBENCH_DATABASE_NAME", default=""):
    DATABASES["default"]["NAME"] = env("KICKBENCH_DATABASE_NAME")

# Lets concurrent test runs on one server use separate test databases.
if env("DJANGO_TEST_DB_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("DJANGO_TEST_DB_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Without collectstatic (the embedded default, the tests) WhiteNoise finds files through the finders.
WHITENOISE_USE_FINDERS = True

# --- Queues -----------------------------------------------------------------
# Empty REDIS_URL = the embedded default: the same job functions run
# synchronously in-process (see backfill.queueing).
REDIS_URL = env("REDIS_URL", default="")
# Blocking result waits need a socket timeout above the wait (redis-py 8 defaults to 5 s).
_RQ_URL = REDIS_URL or "redis://127.0.0.1:6379/0"
_RQ_URL += ("&" if "?" in _RQ_URL else "?") + "socket_timeout=300"
RQ_QUEUES = {
    "default": {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 600},
    "backfill": {"URL": _RQ_URL, "DEFAULT_TIMEOUT": 600},
}
# Enqueue calls happen outside transactions and must return the job at once.
RQ = {"COMMIT_MODE": "auto", "WORKER_CLASS": "config.worker.DjangoWorker"}
# The dashboard stays registered (the run pages link to it); without Redis its pages explain why
# there is nothing to show (config.middleware.QueueDashboardUnavailableMiddleware).
RQ_SHOW_ADMIN_LINK = True

# --- Backfill ---------------------------------------------------------------
BACKFILL_DEFAULT_DAYS = env.int("BACKFILL_DEFAULT_DAYS", default=7)
# Daily schedule, a cron string evaluated in UTC by rq 2.x.
BACKFILL_CRON = env("BACKFILL_CRON", default="30 4 * * *")
BACKFILL_CRON_DAYS = env.int("BACKFILL_CRON_DAYS", default=7)
BACKFILL_REPORT_DIR = Path(env("BACKFILL_REPORT_DIR", default=str(VAR_DIR / "reports")))
# Per-stage job timeouts in seconds.
BACKFILL_TIMEOUTS = {
    "analyze": env.int("BACKFILL_ANALYZE_TIMEOUT", default=300),
    "predict": env.int("BACKFILL_PREDICT_TIMEOUT", default=900),
    "settle": env.int("BACKFILL_SETTLE_TIMEOUT", default=120),
}

# The process that runs an in-process run beats its heartbeat this often (seconds); a run whose
# beat is older than the timeout shows as interrupted, with a resume action.
BACKFILL_HEARTBEAT_SECONDS = env.float("BACKFILL_HEARTBEAT_SECONDS", default=5.0)
BACKFILL_HEARTBEAT_TIMEOUT = env.float("BACKFILL_HEARTBEAT_TIMEOUT", default=30.0)
# Output of the background processes the admin starts for in-process runs (one file per run).
BACKFILL_LOG_DIR = Path(env("BACKFILL_LOG_DIR", default=str(VAR_DIR / "logs")))

# --- Live pipeline ------------------------------------------------------------
FIXTURE_SYNC_EVERY = _duration("FIXTURE_SYNC_EVERY", "3h")
FIXTURE_HORIZON = _duration("FIXTURE_HORIZON", "7d")
ANALYSIS_LEAD = _duration("ANALYSIS_LEAD", "6h")
PREDICTION_LEAD = _duration("PREDICTION_LEAD", "30m")
LIVE_POLL_EVERY = _duration("LIVE_POLL_EVERY", "60s")
STUCK_AFTER = _duration("STUCK_AFTER", "3h")
# How often matches stuck past STUCK_AFTER are rechecked by id, and how far back they are chased.
STUCK_RECHECK_EVERY = _duration("STUCK_RECHECK_EVERY", "15m")
STUCK_GIVE_UP_AFTER = _duration("STUCK_GIVE_UP_AFTER", "3d")
# No tick for this long: the admin index warns that the pipeline is stale.
PIPELINE_STALE_AFTER = _duration("PIPELINE_STALE_AFTER", "10m")
# API-Football competitions the fixture sync covers, as league:season (e.g. 39:2025,78:2025);
# empty: every synced competition (one with an API-Football id) at its latest season.
PIPELINE_COMPETITIONS = env.list("PIPELINE_COMPETITIONS", default=[])
# Seconds between ticks of ``run_pipeline`` (cron runs one a minute).
PIPELINE_LOOP_SECONDS = env.float("PIPELINE_LOOP_SECONDS", default=60.0)
# The live jobs' timeouts on queue "default" (seconds).
PIPELINE_TIMEOUTS = {
    "analyze": env.int("PIPELINE_ANALYZE_TIMEOUT", default=300),
    "predict": env.int("PIPELINE_PREDICT_TIMEOUT", default=900),
    "settle": env.int("PIPELINE_SETTLE_TIMEOUT", default=120),
}

# --- API-Football -----------------------------------------------------------
API_FOOTBALL_BASE_URL = env("API_FOOTBALL_BASE_URL", default="https://v3.football.api-sports.io")
API_FOOTBALL_KEY = env("API_FOOTBALL_KEY", default="")
# Deadline of one whole API-Football call in seconds (connect, headers and body).
API_FOOTBALL_TIMEOUT = env.float("API_FOOTBALL_TIMEOUT", default=15.0)
# Largest body read, bytes: a season of one league's fixtures (380) is about 0.7 MB; 8 MB leaves room
# for the largest pages the project asks for (a cup season, a long head-to-head) and stops a runaway body.
API_FOOTBALL_MAX_BYTES = env.int("API_FOOTBALL_MAX_BYTES", default=8 * 1024 * 1024)
API_FOOTBALL_REQUESTS_PER_MINUTE = env.int("API_FOOTBALL_REQUESTS_PER_MINUTE", default=300)
API_FOOTBALL_MAX_RETRIES = env.int("API_FOOTBALL_MAX_RETRIES", default=4)
# The per-minute budget's window in seconds (tests shorten it; the provider counts per minute).
API_FOOTBALL_RATE_WINDOW_SECONDS = env.int("API_FOOTBALL_RATE_WINDOW_SECONDS", default=60)
# Retry pauses: base * 2**attempt with jitter, capped; a rateLimit answer waits at least the pause
# (the provider's minute: another client of the same key may be spending it).
API_FOOTBALL_BACKOFF_BASE = env.float("API_FOOTBALL_BACKOFF_BASE", default=1.0)
API_FOOTBALL_BACKOFF_CAP = env.float("API_FOOTBALL_BACKOFF_CAP", default=60.0)
# Default: one budget window, i.e. the provider's minute.
API_FOOTBALL_RATE_LIMIT_PAUSE = env.float(
    "API_FOOTBALL_RATE_LIMIT_PAUSE", default=float(API_FOOTBALL_RATE_WINDOW_SECONDS)
)
# After this many consecutive 5xx/timeouts (across processes), API-Football counts as down for
# API_FOOTBALL_DOWN_SECONDS (0: never): a backfill analysis then gives its worker back and is
# rescheduled for when the mark clears, instead of holding the worker through the client's retries.
API_FOOTBALL_DOWN_AFTER_FAILURES = env.int("API_FOOTBALL_DOWN_AFTER_FAILURES", default=3)
API_FOOTBALL_DOWN_SECONDS = env.float("API_FOOTBALL_DOWN_SECONDS", default=10.0)

# --- Prediction providers -----------------------------------------------------
# Base URLs of OpenAI-compatible providers; lineup entries name one of these
# settings, and the environment variable that holds their key.
LLM_BASE_URLS = {
    "TOGETHER_BASE_URL": env("TOGETHER_BASE_URL", default="https://api.together.xyz/v1"),
    "OPENROUTER_BASE_URL": env("OPENROUTER_BASE_URL", default="https://openrouter.ai/api/v1"),
    "VLLM_BASE_URL": env("VLLM_BASE_URL", default="http://127.0.0.1:8000/v1"),
    "OLLAMA_BASE_URL": env("OLLAMA_BASE_URL", default="http://127.0.0.1:11434/v1"),
}
# Deadline of one whole LLM call in seconds (connect, headers and body), in a worker and in-process.
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=60.0)
# Largest reply body read, bytes; a longer one fails the prediction (a real reply is a few KB).
LLM_MAX_BYTES = env.int("LLM_MAX_BYTES", default=256 * 1024)
# max_tokens sent when a model's config names none: room for a reasoning model's thinking.
LLM_MAX_TOKENS = env.int("LLM_MAX_TOKENS", default=4096)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
# Consecutive failures after which a model is deactivated (circuit breaker).
MODEL_FAILURE_THRESHOLD = env.int("MODEL_FAILURE_THRESHOLD", default=5)
# Models predicted in parallel by one predict_match job.
PREDICT_MAX_WORKERS = env.int("PREDICT_MAX_WORKERS", default=8)
# Seconds one predict_match waits for its models; keep it below BACKFILL_PREDICT_TIMEOUT so the
# answers already in are saved before RQ kills the job.
PREDICT_TIME_BUDGET = env.float("PREDICT_TIME_BUDGET", default=600.0)

# --- Logging ------------------------------------------------------------------
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "text": {"()": "config.logging.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        },
    },
    "loggers": {
        "matches": {"handlers": ["console"], "level": LOG_LEVEL},
        "predictions": {"handlers": ["console"], "level": LOG_LEVEL},
        "backfill": {"handlers": ["console"], "level": LOG_LEVEL},
        "pipeline": {"handlers": ["console"], "level": LOG_LEVEL},
        # RQ's worker and scheduler lines too, so LOG_FORMAT=json holds for a whole worker's output
        # (with a handler here, RQ does not install its own plain-text one).
        "rq": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
# Base of the exponential backoff between a stage's attempts (seconds).
BACKFILL_RETRY_BASE_SECONDS = env.int("BACKFILL_RETRY_BASE_SECONDS", default=10)
# How long a started job may go without a worker heartbeat before it counts as abandoned.
RQ_HEARTBEAT_GRACE_SECONDS = env.int("RQ_HEARTBEAT_GRACE_SECONDS", default=60)
RQ_JOB_MONITORING_INTERVAL = env.int("RQ_JOB_MONITORING_INTERVAL", default=30)
# How often each worker reclaims what dead workers of its host hold (config.rq_recovery: their
# scheduler lock, their started jobs), cleans the registries and, if its scheduler is not running,
# tries to take over the scheduler lock; an idle worker wakes for it. RQ's default is 600 s: a worker
# killed while holding the lock left scheduled retries unrun for up to ~11 minutes (bench/faults.py).
# A few Redis round trips per worker each time.
RQ_MAINTENANCE_INTERVAL = env.int("RQ_MAINTENANCE_INTERVAL", default=5)

"""Guards around django-rq's dashboard.

django-rq's views only require staff status (its own permission merely hides
the link), and they can empty, requeue and stop jobs: they are restricted to
the people allowed to run backfills. Without Redis (the embedded default, or
Redis down) they would fail with a 500; they explain themselves instead.
"""

import re

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backfill.models import RUN_BACKFILL_PERMISSION
from config.views import admin_message

DASHBOARD_PREFIX = "/admin/django_rq/"
# django-rq's API endpoints, which also accept a bearer token (RQ_API_TOKEN) instead of a session.
TOKEN_ENDPOINTS = re.compile(r"^/admin/django_rq/dashboard/(stats\.json(/[\w]*)?|metrics)/?$")
PERMISSION = RUN_BACKFILL_PERMISSION
NO_REDIS_TITLE = "Queue dashboard unavailable"


class QueueDashboardPermissionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if TOKEN_ENDPOINTS.match(path) and not request.user.is_authenticated:
            return self.get_response(request)  # token-authenticated by django-rq itself
        if (
            path.startswith(DASHBOARD_PREFIX)
            and request.user.is_authenticated
            and not request.user.has_perm(PERMISSION)
        ):
            return admin_message(
                request,
                title="Permission denied",
                message=f"The queue dashboard needs the {PERMISSION} permission.",
                hint="Ask an administrator to grant it (Users > your user > permissions).",
                kind="errornote",
                status=403,
            )
        return self.get_response(request)


class QueueDashboardUnavailableMiddleware:
    """The dashboard without Redis: a page that says why (503), not a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(DASHBOARD_PREFIX) and not settings.REDIS_URL and request.user.is_staff:
            return self._page(
                request,
                "Jobs run in-process (REDIS_URL is unset), so there are no queues to show.",
                "Set REDIS_URL and start a worker (README: Running it with Redis) to get queues and this dashboard.",
            )
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path.startswith(DASHBOARD_PREFIX) and isinstance(
            exception, RedisConnectionError | RedisTimeoutError
        ):
            return self._page(
                request,
                f"Redis at REDIS_URL does not answer ({exception}).",
                "Start Redis (scripts/services starts one on 127.0.0.1:6379), then reload this page.",
            )
        return None

    def _page(self, request, message: str, hint: str):
        return admin_message(request, title=NO_REDIS_TITLE, message=message, hint=hint, kind="errornote", status=503)

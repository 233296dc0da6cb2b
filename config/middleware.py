"""Restrict django-rq's dashboard to the people allowed to run backfills.

django-rq's views only require staff status (its own permission merely hides
the link), and they can empty, requeue and stop jobs.
"""

import re

from django.http import HttpResponseForbidden

from backfill.models import RUN_BACKFILL_PERMISSION

DASHBOARD_PREFIX = "/admin/django_rq/"
# django-rq's API endpoints, which also accept a bearer token (RQ_API_TOKEN) instead of a session.
TOKEN_ENDPOINTS = re.compile(r"^/admin/django_rq/dashboard/(stats\.json(/[\w]*)?|metrics)/?$")
PERMISSION = RUN_BACKFILL_PERMISSION


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
            return HttpResponseForbidden(
                f"The queue dashboard needs the {PERMISSION} permission.", content_type="text/plain"
            )
        return self.get_response(request)


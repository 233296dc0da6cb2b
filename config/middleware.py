"""Restrict django-rq's dashboard to the people allowed to run backfills.

django-rq's views only require staff status (its own permission merely hides
the link), and they can empty, requeue and stop jobs.
"""

from django.http import HttpResponseForbidden

DASHBOARD_PREFIX = "/admin/django_rq/"
TOKEN_ENDPOINTS = ("stats.json", "metrics")
PERMISSION = "backfill.run_backfill"


class QueueDashboardPermissionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if (
            path.startswith(DASHBOARD_PREFIX)
            and not any(endpoint in path for endpoint in TOKEN_ENDPOINTS)
            and request.user.is_authenticated
            and not request.user.has_perm(PERMISSION)
        ):
            return HttpResponseForbidden(
                f"The queue dashboard needs the {PERMISSION} permission.", content_type="text/plain"
            )
        return self.get_response(request)


"""Error pages that keep the admin's chrome (header, breadcrumbs, styles)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def admin_message(
    request: HttpRequest, *, title: str, message: str, status: int, hint: str = "", kind: str = ""
) -> HttpResponse:
    """A one-message page inside the admin's layout, so an operator never lands on a bare error."""
    context = {**admin.site.each_context(request), "title": title, "message": message, "hint": hint, "kind": kind}
    response = TemplateResponse(request, "admin/kickbench/message.html", context, status=status)
    return response.render()


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the admin's layout with what is missing, instead of Django's bare "403 Forbidden"."""
    detail = str(exception) if exception is not None and str(exception) else ""
    return admin_message(
        request,
        title="Permission denied",
        message=detail or "Your account does not have the permission this page needs.",
        hint="Ask an administrator to grant it (Users > your user > permissions).",
        kind="errornote",
        status=403,
    )

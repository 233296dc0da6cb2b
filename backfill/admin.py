"""Admin: the "Backfill selected matches" action, the run pages, and run actions."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from backfill import queueing, service
from backfill.models import RUN_BACKFILL, RUN_BACKFILL_PERMISSION, BackfillItem, BackfillRun
from backfill.services import run_page
from matches.models import Match
from predictions.admin import PredictionMatchAdmin as MatchAdmin

PERMISSION = RUN_BACKFILL_PERMISSION


def _can_backfill(request) -> bool:
    return request.user.is_active and request.user.is_staff and request.user.has_perm(PERMISSION)


def _by(request) -> str:
    return f"admin:{request.user.get_username()}"


def _start(model_admin: admin.ModelAdmin, request, plan: service.BackfillPlan) -> HttpResponseRedirect | None:
    """Start the run (never inside this request: RQ, or a background process) and go to its page."""
    try:
        run = service.start_backfill(plan, triggered_by=_by(request), user=request.user, background=True)
    except service.BackfillError as exc:
        model_admin.message_user(request, f"The backfill did not start: {exc}", messages.ERROR)
        return None
    count = run.items.count()
    if run.status == BackfillRun.Status.FAILED:
        model_admin.message_user(request, f"Backfill run {run.pk} failed to start; see its items below.",
                                 messages.ERROR)
    else:
        where = "queued on RQ" if queueing.redis_enabled() else "running in a background process"
        model_admin.message_user(request, f"Backfill run {run.pk} started for {count} match(es), {where}.",
                                 messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:backfill_backfillrun_change", args=[run.pk]))


def _retry(model_admin: admin.ModelAdmin, request, run: BackfillRun) -> BackfillRun | None:
    """A new run for exactly what is still missing of ``run``'s failed or canceled items; says how many."""
    plan = service.retry_plan(run)
    if plan is None:
        model_admin.message_user(request, f"Run {run.pk} has no failed or canceled items.", messages.WARNING)
        return None
    asked = len(plan.match_ids or [])
    if not plan.gaps:
        model_admin.message_user(
            request, f"Run {run.pk}: nothing is missing any more for its {asked} failed or canceled match(es); "
            "nothing was started.", messages.WARNING)
        return None
    try:
        new = service.start_backfill(plan, triggered_by=_by(request), user=request.user, background=True)
    except service.BackfillError as exc:
        model_admin.message_user(request, f"Run {run.pk}: the retry did not start: {exc}", messages.ERROR)
        return None
    estimate = plan.estimate
    model_admin.message_user(
        request, f"Run {new.pk} retries the failed items of run {run.pk}: {len(plan.gaps)} of {asked} match(es) "
        f"still missing ({estimate['analyses']} analyses, {estimate['predictions']} predictions, "
        f"{estimate['settlements']} settlements); the other {asked - len(plan.gaps)} are complete.")
    return new


def _cancel(model_admin: admin.ModelAdmin, request, run: BackfillRun) -> None:
    canceled = service.cancel_run(run)
    running = run.items.filter(status=BackfillItem.Status.RUNNING).count()
    model_admin.message_user(
        request, f"Run {run.pk} canceled ({canceled} queued job(s) canceled); no new stage starts"
        + (f", {running} running stage(s) finish and are recorded." if running else "."))


admin.site.unregister(Match)


@admin.register(Match)
class BackfillMatchAdmin(MatchAdmin):
    """The Match admin, plus the backfill action (kept here so ``matches`` never imports ``backfill``)."""

    actions = ["backfill_selected_matches"]

    def has_run_backfill_permission(self, request) -> bool:
        return _can_backfill(request)

    @admin.action(description="Backfill selected matches", permissions=[RUN_BACKFILL])
    def backfill_selected_matches(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        try:
            plan = service.plan_backfill(match_ids=ids)
        except service.BackfillError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        if request.POST.get("confirm") == "yes":
            return _start(self, request, plan)
        context = {
            **self.admin_site.each_context(request),
            "title": "Backfill selected matches",
            "plan": plan,
            "plan_rows": run_page.plan_rows(plan.gaps_by_status()),
            "skip_groups": run_page.skip_groups(plan.as_dict()["skipped"]),
            "selected_ids": ids,
            # "Select all N" re-derives the queryset from the filters; carrying every id could exceed
            # DATA_UPLOAD_MAX_NUMBER_FIELDS.
            "select_across": request.POST.get("select_across") == "1",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backfill/confirm_backfill.html", context)


@admin.register(BackfillRun)
class BackfillRunAdmin(admin.ModelAdmin):
    """Runs are records: listed, watched, canceled, resumed and retried; never edited or deleted."""

    list_display = [
        "id", "triggered_by", "created_at", "window", "status_shown", "items_total", "items_succeeded",
        "items_failed", "items_in_flight", "finished_at",
    ]
    list_filter = ["status", "triggered_by", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["triggered_by", "items__match__home_team__name", "items__match__away_team__name"]
    actions = ["retry_failed_items", "cancel_runs", "resume_runs"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                items_total=Count("items"),
                items_succeeded=Count("items", filter=Q(items__status=BackfillItem.Status.SUCCEEDED)),
                items_failed=Count("items", filter=Q(items__status=BackfillItem.Status.FAILED)),
                items_in_flight=Count("items", filter=Q(items__reused=True)),
            )
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_run_backfill_permission(self, request) -> bool:
        return _can_backfill(request)

    @admin.display(description="Window")
    def window(self, obj: BackfillRun) -> str:
        if not obj.window_start:
            return "-"
        return f"{obj.window_start:%Y-%m-%d} to {obj.window_end:%Y-%m-%d} ({obj.days} d)"

    @admin.display(description="Status", ordering="status")
    def status_shown(self, obj: BackfillRun) -> str:
        return obj.status_label(now=timezone.now())

    @admin.display(description="Matches", ordering="items_total")
    def items_total(self, obj) -> int:
        return obj.items_total

    @admin.display(description="Succeeded")
    def items_succeeded(self, obj) -> int:
        return obj.items_succeeded

    @admin.display(description="Failed")
    def items_failed(self, obj) -> int:
        return obj.items_failed

    @admin.display(description="Already in flight")
    def items_in_flight(self, obj) -> int:
        return obj.items_in_flight

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name="backfill_backfillrun_cancel"),
            path("<path:object_id>/resume/", wrap(self.resume_view), name="backfill_backfillrun_resume"),
            path("<path:object_id>/retry/", wrap(self.retry_view), name="backfill_backfillrun_retry"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The run page, read-only: progress, the plan, one page of items; no form, no Save or Delete."""
        run = self.get_object(request, unquote(object_id))
        if run is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        now = timezone.now()
        if run.items.filter(status__in=service.UNFINISHED).exists():
            service.close_if_abandoned(run, now=now)
            service.refresh_run(run)
        interrupted = run.is_interrupted(now=now)
        can = _can_backfill(request)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Backfill run {run.pk}",
            "opts": self.opts,
            "original": run,
            "run": run,
            "status_label": run.status_label(now=now),
            "progress": run_page.run_progress(run),
            "page": run_page.item_page(run, request.GET.get("page")),
            "skip_groups": run_page.skip_groups(run.plan.get("skipped", [])),
            "estimate": run.plan.get("estimate", {}),
            "active_models": run.plan.get("active_models"),
            "refresh_seconds": 2 if run.status == BackfillRun.Status.RUNNING and not interrupted else None,
            "can_cancel": can and run.status == BackfillRun.Status.RUNNING,
            "can_resume": can and interrupted,
            "can_retry": can and run.is_finished and run.items.filter(
                status__in=(BackfillItem.Status.FAILED, BackfillItem.Status.CANCELED)).exists(),
            "show_dashboard": can and queueing.redis_enabled(),
            "interrupted": interrupted,
        }
        return TemplateResponse(request, "admin/backfill/run_detail.html", context)

    def _run_action(self, request, object_id, act) -> HttpResponseRedirect:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self.get_object(request, unquote(object_id))
        if run is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not _can_backfill(request):
            raise PermissionDenied
        new = act(run)
        return HttpResponseRedirect(reverse("admin:backfill_backfillrun_change", args=[(new or run).pk]))

    def cancel_view(self, request, object_id):
        return self._run_action(request, object_id, lambda run: _cancel(self, request, run))

    def resume_view(self, request, object_id):
        return self._run_action(request, object_id, lambda run: self._resume(request, run))

    def retry_view(self, request, object_id):
        return self._run_action(request, object_id, lambda run: _retry(self, request, run))

    def _resume(self, request, run: BackfillRun) -> None:
        try:
            count = service.resume_run(run, now=timezone.now())
        except service.BackfillError as exc:
            self.message_user(request, f"Run {run.pk} was not resumed: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Run {run.pk} resumed: {count} open item(s) in a new background process.")

    @admin.action(description="Retry failed items (a new run for what is still missing)", permissions=[RUN_BACKFILL])
    def retry_failed_items(self, request, queryset):
        for run in queryset:
            _retry(self, request, run)

    @admin.action(description="Cancel (no new stage starts; running ones finish)", permissions=[RUN_BACKFILL])
    def cancel_runs(self, request, queryset):
        for run in queryset.filter(status=BackfillRun.Status.RUNNING):
            _cancel(self, request, run)

    @admin.action(description="Resume interrupted runs (their process died)", permissions=[RUN_BACKFILL])
    def resume_runs(self, request, queryset):
        for run in queryset.filter(status=BackfillRun.Status.RUNNING):
            self._resume(request, run)

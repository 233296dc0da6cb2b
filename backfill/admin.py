"""Admin: the "Backfill selected matches" action, the run pages, and run actions."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from backfill import service
from backfill.models import RUN_BACKFILL, RUN_BACKFILL_PERMISSION, BackfillItem, BackfillRun
from matches.models import Match
from predictions.admin import PredictionMatchAdmin as MatchAdmin

PERMISSION = RUN_BACKFILL_PERMISSION


def _can_backfill(request) -> bool:
    return request.user.is_active and request.user.is_staff and request.user.has_perm(PERMISSION)


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
            try:
                run = service.start_backfill(
                    plan, triggered_by=f"admin:{request.user.get_username()}", user=request.user
                )
            except service.BackfillError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(request, f"Backfill run {run.pk} started for {run.items.count()} match(es).")
            return HttpResponseRedirect(reverse("admin:backfill_backfillrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Backfill selected matches",
            "plan": plan,
            "gaps_by_status": plan.gaps_by_status(),
            "selected_ids": ids,
            # "Select all N" re-derives the queryset from the filters; carrying every id could exceed
            # DATA_UPLOAD_MAX_NUMBER_FIELDS.
            "select_across": request.POST.get("select_across") == "1",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/backfill/confirm_backfill.html", context)


class BackfillItemInline(admin.TabularInline):
    model = BackfillItem
    extra = 0
    can_delete = False
    fields = ["match", "stages", "stage", "status", "reused", "predictions_created", "settled", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BackfillRun)
class BackfillRunAdmin(admin.ModelAdmin):
    list_display = [
        "id", "triggered_by", "created_at", "window", "status", "items_total", "items_succeeded", "items_failed",
        "items_in_flight", "finished_at",
    ]
    list_filter = ["status", "triggered_by", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["triggered_by", "items__match__home_team__name", "items__match__away_team__name"]
    actions = ["retry_failed_items", "cancel_runs"]
    change_form_template = "admin/backfill/run_detail.html"
    readonly_fields = [
        "triggered_by", "user", "days", "window_start", "window_end", "requested_match_ids", "status", "plan",
        "created_at", "finished_at",
    ]
    inlines = [BackfillItemInline]

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

    def has_run_backfill_permission(self, request) -> bool:
        return _can_backfill(request)

    @admin.display(description="Window")
    def window(self, obj: BackfillRun) -> str:
        if not obj.window_start:
            return "-"
        return f"{obj.window_start:%Y-%m-%d} to {obj.window_end:%Y-%m-%d} ({obj.days} d)"

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        if run is not None and not run.is_finished:
            service.refresh_run(run)
        extra_context = {
            **(extra_context or {}),
            "run": run,
            "summary": service.summarize_run(run) if run else None,
            "refresh_seconds": 2 if run is not None and not run.is_finished else None,
            "can_backfill": _can_backfill(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Retry failed items (a new run for what is still missing)", permissions=[RUN_BACKFILL])
    def retry_failed_items(self, request, queryset):
        for run in queryset:
            try:
                new = service.retry_failed(run, f"admin:{request.user.get_username()}", user=request.user)
            except service.BackfillError as exc:
                self.message_user(request, f"Run {run.pk}: {exc}", messages.ERROR)
                continue
            if new is None:
                self.message_user(request, f"Run {run.pk} has no failed items.", messages.WARNING)
            else:
                self.message_user(request, f"Run {new.pk} retries the failed items of run {run.pk}.")

    @admin.action(description="Cancel (queued jobs are canceled, running ones finish)", permissions=[RUN_BACKFILL])
    def cancel_runs(self, request, queryset):
        for run in queryset.filter(status=BackfillRun.Status.RUNNING):
            canceled = service.cancel_run(run)
            self.message_user(request, f"Run {run.pk} canceled ({canceled} queued job(s) canceled).")

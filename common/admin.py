"""Admin for what the apps share: background jobs (every job with its state, attempts and last
error, a "try again" action for failed ones, and `JobColumn`, the job's state shown on its
owner's admin pages), and third-party admin classes adjusted so that every admin action names
the permission it needs and none answers 500."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil

from . import jobs
from .models import Job


def job_text(*, state: str | None, attempts: int | None, error: str, due_at) -> str:
    """ "waiting (attempt 2 failed: …, next at 14:05)": what a job is doing, in words."""
    if state is None:
        return "—"
    if state == Job.State.PENDING and attempts:
        when = timeuntil(due_at) if due_at and due_at > timezone.now() else "now"
        return f"retrying in {when} (attempt {attempts} failed: {error[:150]})"
    if state == Job.State.RUNNING:
        return f"running (attempt {attempts})"
    if state == Job.State.FAILED:
        return f"failed after {attempts} attempt(s): {error[:300]}"
    return Job.State(state).label.lower()


class JobColumn:
    """The state of an owner's job of `kind` on its admin pages: `annotate(queryset)` in
    get_queryset (one subquery for a list page), `text(obj)` in list_display or
    readonly_fields."""

    def __init__(self, kind: str):
        self.kind = kind

    def annotate(self, queryset: QuerySet) -> QuerySet:
        return jobs.with_job(queryset, self.kind)

    def text(self, obj) -> str:
        if not hasattr(obj, "job_state"):  # an object not loaded through annotate()
            obj = jobs.with_job(type(obj).objects.filter(pk=obj.pk), self.kind).first()
        return job_text(
            state=obj.job_state,
            attempts=obj.job_attempts,
            error=obj.job_last_error or "",
            due_at=obj.job_due_at,
        )


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only: a job changes only by running, or by "try again" (common.jobs.restart)."""

    list_display = ("kind", "target", "state", "attempts", "due_at", "error", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("kind", "=target_id", "last_error")
    date_hierarchy = "created_at"
    actions = ("try_again",)
    readonly_fields = (
        "kind",
        "target",
        "state",
        "attempts",
        "due_at",
        "dispatched_at",
        "claimed_at",
        "finished_at",
        "created_at",
        "last_error",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="For")
    def target(self, obj):
        kind = jobs.KINDS.get(obj.kind)
        if kind is None:
            return obj.target_id
        model = kind.model
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
            args=[obj.target_id],
        )
        return format_html('<a href="{}">{} {}</a>', url, model._meta.verbose_name, obj.target_id)

    @admin.display(description="Last error")
    def error(self, obj):
        return obj.last_error[:120]

    @admin.action(description="Try the selected failed jobs again", permissions=["restart"])
    def try_again(self, request, queryset):
        failed = queryset.filter(state=Job.State.FAILED)
        for job in failed:
            jobs.restart(job)
        skipped = queryset.count() - len(failed)
        self.message_user(request, f"{len(failed)} job(s) started again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} job(s) not failed were left alone.", messages.WARNING
            )

    def has_restart_permission(self, request):
        return request.user.has_perm("common.restart_job")


# --- django-axes -------------------------------------------------------------------------

if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)

    @admin.register(AccessAttempt)
    class LockoutAttemptAdmin(AccessAttemptAdmin):
        """django-axes' list of failed sign-ins; deleting an entry lifts its lockout."""

        @admin.action(description="Clean up expired attempts", permissions=["delete"])
        def cleanup_expired_attempts(self, request, queryset):
            # django-axes reads the time its middleware sets on sign-in requests only; on
            # this page it is "now" (without it the action answered 500).
            request.axes_attempt_time = getattr(request, "axes_attempt_time", None)
            return super().cleanup_expired_attempts(request, queryset)

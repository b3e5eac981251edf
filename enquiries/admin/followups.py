"""Admin for sample follow-ups: the steps (edited here, with a preview) and the sequences
running for each sample request, with every step sent or skipped and why. "Take the lead"
stops a person's sequence for good, through the same service the site uses."""

from django.contrib import admin, messages
from django.utils.html import format_html

from contacts.admin import admin_link

from ..models import FollowUp, FollowUpEvent, FollowUpStep, SampleRequest
from ..services.followups import followup_step_render, followup_stop


@admin.register(FollowUpStep)
class FollowUpStepAdmin(admin.ModelAdmin):
    list_display = ("position", "name", "delay_days", "reply_to_sales", "is_active", "updated_at")
    list_display_links = ("name",)
    list_editable = ("position", "is_active")
    readonly_fields = ("variables", "preview")
    fields = (
        "position",
        "name",
        "delay_days",
        "subject",
        "body",
        "reply_to_sales",
        "is_active",
        "variables",
        "preview",
    )

    @admin.display(description="Variables")
    def variables(self, obj):
        return format_html(
            "<code>{}</code>",
            "first_name, name, company, report (report.title, report.number…), toc (each "
            "entry.title), licences (each licence.get_kind_display, .price, .currency, "
            ".description), report_url, buy_url, ask_url, sales_email, PUBLISHER_NAME",
        )

    @admin.display(description="Preview (the latest sample request, as saved)")
    def preview(self, obj):
        sample_request = SampleRequest.objects.select_related("report").order_by("-pk").first()
        if obj is None or obj.pk is None or sample_request is None:
            return "Saved steps are previewed with the latest sample request."
        try:
            subject, body = followup_step_render(step=obj, sample_request=sample_request)
        except Exception as exc:  # noqa: BLE001 - a template error is what staff need to see
            return format_html("<strong>Template error:</strong> {}", exc)
        return format_html(
            "<p><strong>Subject:</strong> {}</p><pre style='white-space:pre-wrap'>{}</pre>",
            subject,
            body,
        )


class FollowUpEventInline(admin.TabularInline):
    model = FollowUpEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "step", "outcome", "reason", "email_link", "reply_link")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Email")
    def email_link(self, obj):
        return admin_link(obj.email) if obj.email_id else "—"

    @admin.display(description="Reply")
    def reply_link(self, obj):
        return admin_link(obj.inbound) if obj.inbound_id else "—"


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = (
        "sample_request",
        "contact",
        "status",
        "started_at",
        "next_due_at",
        "stop_reason",
    )
    list_filter = ("status",)
    search_fields = ("contact__email", "contact__name")
    list_select_related = ("sample_request__report", "contact")
    readonly_fields = (
        "sample_request",
        "contact",
        "started_at",
        "next_due_at",
        "status",
        "stop_reason",
        "stopped_at",
    )
    inlines = (FollowUpEventInline,)
    actions = ("take_the_lead",)

    def has_add_permission(self, request):
        return False  # a sequence starts from a sample request with consent, never by hand

    def has_change_permission(self, request, obj=None):
        return False  # the record of what was sent; "take the lead" is the one change

    # Deleting stays with the model's permission: a sample request deleted (by a superuser,
    # or the retention purge) takes its sequence with it.

    def has_lead_permission(self, request) -> bool:
        return request.user.has_perm("enquiries.change_samplerequest")

    @admin.action(description="Take the lead: stop the follow-ups for good", permissions=["lead"])
    def take_the_lead(self, request, queryset):
        name = request.user.get_full_name() or request.user.get_username()
        stopped = sum(
            followup_stop(follow_up=follow_up, reason=f"Staff took the lead ({name}).")
            for follow_up in queryset
        )
        self.message_user(request, f"Stopped {stopped} follow-up(s).", messages.SUCCESS)

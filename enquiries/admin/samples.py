"""Admin for sample requests: a record of what happened, so staff read it and act through
actions that call the same services as the site (re-send); nothing here edits a lead by hand."""

import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from common.admin import JobColumn
from common.admin_fieldsets import HideEmptyReadonlyMixin
from common.admin_filters import CountryPresentFilter
from common.spreadsheets import csv_safe
from contacts.admin import OwnEmailsMixin, admin_link
from contacts.models import ATTRIBUTION_FIELDS, UTM_FIELDS

from ..models import SampleRequest
from ..services.followups import followup_stop
from ..services.samples import JOB, sample_request_resend

STAMP_JOB = JobColumn(JOB)

CSV_FIELDS = (
    ("created_at", "Requested at"),
    ("status", "Status"),
    ("report__number", "Report"),
    ("name", "Name"),
    ("email", "Email"),
    ("company", "Company"),
    ("job_title", "Job title"),
    ("country", "Country"),
    ("phone", "Phone"),
    ("free_mail", "Free-mail"),
    ("message", "Message"),
    *((name, name) for name in UTM_FIELDS),
    ("landing_page", "Landing page"),
    ("referrer", "Referrer"),
    ("emailed_at", "Emailed at"),
)


class _Echo:
    def write(self, value):
        return value


@admin.register(SampleRequest)
class SampleRequestAdmin(HideEmptyReadonlyMixin, OwnEmailsMixin, admin.ModelAdmin):
    # Four dense columns that fit beside the filters at 1280 px (issue 26); the campaign is
    # in the filters and on the request's page.
    list_display = ("requested_column", "lead_column", "report_number", "status")
    list_display_links = ("requested_column",)
    list_filter = (
        "status",
        "report",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        CountryPresentFilter,
        "free_mail",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("email", "name", "company", "job_title", "utm_campaign", "message")
    date_hierarchy = "created_at"
    list_select_related = ("report",)
    list_per_page = 50
    actions = ("resend_sample", "take_the_lead", "export_csv")
    readonly_fields = ("emails", "contact_link", "report_link", "status_link", "stamping")
    # The person, then the sample they asked for and where it stands, then the campaign that
    # brought them; the stamping and consent records are folded away. Empty fields are left
    # out of the page (HideEmptyReadonlyMixin): every field here is read-only.
    fieldsets = (
        (
            "Lead",
            {
                "fields": (
                    ("name", "email"),
                    ("company", "job_title"),
                    ("country", "phone", "free_mail"),
                    "message",
                    "contact_link",
                )
            },
        ),
        (
            "Sample",
            {
                "fields": (
                    ("report_link", "status"),
                    ("emailed_at", "failed_at"),
                    "error",
                    ("resend_count", "last_resent_at"),
                    "emails",
                    "status_link",
                )
            },
        ),
        ("Campaign", {"fields": ATTRIBUTION_FIELDS}),
        (
            "Stamped copy",
            {"classes": ("collapse",), "fields": ("file_path", "stamping", "pdf_ready_at")},
        ),
        (
            "Consent and origin",
            {
                "classes": ("collapse",),
                "fields": (
                    ("consent_version", "consent_at"),
                    "ip",
                    "user_agent",
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )

    def has_change_permission(self, request, obj=None):
        return False  # shown read-only to anyone who may view it

    def has_add_permission(self, request):
        return False  # leads come from the site's form

    @admin.display(description="Requested", ordering="created_at")
    def requested_column(self, obj):
        return format_html(
            '<span class="list-nowrap">{}</span>',
            f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}",
        )

    @admin.display(description="Lead", ordering="name")
    def lead_column(self, obj):
        details = [obj.email, obj.country.name if obj.country else ""]
        details.append("free mail" if obj.free_mail else "")
        return format_html(
            '<strong>{}</strong> · {}<div class="list-sub list-email">{}</div>',
            obj.name,
            obj.company or "no company",
            " · ".join(part for part in details if part),
        )

    @admin.display(description="Report", ordering="report__number")
    def report_number(self, obj):
        return format_html('<span title="{}">{}</span>', obj.report.title, obj.report.number)

    @admin.display(description="Contact")
    def contact_link(self, obj):
        return admin_link(obj.contact)

    @admin.display(description="Report")
    def report_link(self, obj):
        return admin_link(obj.report)

    @admin.display(description="Stamping job")
    def stamping(self, obj):
        return STAMP_JOB.text(obj)

    @admin.display(description="Visitor's status page")
    def status_link(self, obj):
        url = reverse("enquiries:sample-status", args=[obj.public_token])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def has_resend_permission(self, request) -> bool:
        # The lead pages are read-only for everyone; re-sending is what "change" allows.
        return request.user.has_perm("enquiries.change_samplerequest")

    @admin.action(description="Re-send the sample to the selected leads", permissions=["resend"])
    def resend_sample(self, request, queryset):
        sent = skipped = 0
        for sample_request in queryset:
            if sample_request_resend(sample_request=sample_request):
                sent += 1
            else:
                skipped += 1
        if sent:
            self.message_user(request, f"Re-sending {sent} sample(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} request(s) still in progress were left alone: their email is on its way.",
                messages.WARNING,
            )

    @admin.action(
        description="Take the lead: stop these leads' follow-up emails for good",
        permissions=["resend"],
    )
    def take_the_lead(self, request, queryset):
        name = request.user.get_full_name() or request.user.get_username()
        stopped = sum(
            followup_stop(
                follow_up=sample_request.follow_up, reason=f"Staff took the lead ({name})."
            )
            for sample_request in queryset.filter(follow_up__isnull=False).select_related(
                "follow_up"
            )
        )
        self.message_user(request, f"Stopped {stopped} follow-up sequence(s).", messages.SUCCESS)

    @admin.action(description="Export the selected leads as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        fields = [name for name, _ in CSV_FIELDS]
        rows = queryset.order_by("created_at").values_list(*fields)
        writer = csv.writer(_Echo())
        lines = (
            writer.writerow([label for _, label in CSV_FIELDS]),
            *(writer.writerow([csv_safe(v) for v in row]) for row in rows.iterator()),
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="sample-requests-{stamp}.csv"'
        return response

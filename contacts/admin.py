"""The mail log in admin: every email the site sent or tried to send, read-only, with a
re-send action; and the list of an object's own emails other admin pages show."""

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.admin import JobColumn
from common.admin_fieldsets import HideEmptyReadonlyMixin
from common.admin_filters import EmailTemplateFilter, email_kind

from .models import OutboundEmail
from .services.outbox import JOB, email_resend, html_inline_css

SEND_JOB = JobColumn(JOB)


def admin_link(obj) -> str:
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(obj)
    return format_html('<a href="{}">{}</a>', url, obj)


class OwnEmailsMixin:
    """A read-only list of the mail-log rows that belong to the object being viewed."""

    @admin.display(description="Emails")
    def emails(self, obj):
        rows = OutboundEmail.objects.filter(
            related_type=ContentType.objects.get_for_model(obj), related_id=str(obj.pk)
        ).order_by("created_at")
        if not rows:
            return "—"
        return format_html(
            "<ul class='mb-0'>{}</ul>",
            format_html_join(
                "",
                "<li><a href='{}'>{}</a> → {}: <strong>{}</strong> {}</li>",
                (
                    (
                        reverse("admin:contacts_outboundemail_change", args=[row.pk]),
                        row.subject,
                        row.to,
                        row.get_status_display(),
                        row.last_error[:200] if row.status != row.Status.SENT else "",
                    )
                    for row in rows
                ),
            ),
        )


@admin.register(OutboundEmail)
class OutboundEmailAdmin(HideEmptyReadonlyMixin, admin.ModelAdmin):
    """The mail log: every email the site sent or tried to send. Read-only; "re-send" queues
    the same message again through `email_resend`."""

    # Four dense columns that fit beside the filters at 1280 px (issue 26), the status with
    # its delivery job's words under it.
    list_display = ("created_column", "email_column", "kind_column", "status_column")
    list_display_links = ("created_column",)
    list_filter = (
        "status",
        "purpose",
        EmailTemplateFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("to", "subject", "template", "message_id", "dedupe_key")
    date_hierarchy = "created_at"
    list_select_related = ("related_type",)
    actions = ("resend",)

    @admin.display(description="queued", ordering="created_at")
    def created_column(self, email):
        return format_html(
            '<span class="list-nowrap">{}</span>',
            f"{timezone.localtime(email.created_at):%Y-%m-%d %H:%M}",
        )

    @admin.display(description="to · subject", ordering="to")
    def email_column(self, email):
        return format_html(
            '<span class="list-email">{}</span><div class="list-sub">{}</div>',
            email.to,
            email.subject,
        )

    @admin.display(description="kind · belongs to", ordering="template")
    def kind_column(self, email):
        return format_html(
            '{}<div class="list-sub">{}</div>', email_kind(email.template), self.belongs_to(email)
        )

    @admin.display(description="status", ordering="status")
    def status_column(self, email):
        return format_html(
            '<strong>{}</strong><div class="list-sub">{}</div>',
            email.get_status_display(),
            _status_detail(email),
        )

    # No stored body holds a live secret (a download link is masked in the log and filled in
    # at send time: reports/services/downloads.py), so anyone who may view the log reads it.
    readonly_fields = ("belongs_to", "contact_link", "html_preview", "delivery")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "to",
                    "reply_to",
                    "from_email",
                    "subject",
                    "template",
                    "purpose",
                    "belongs_to",
                    "contact_link",
                )
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "delivery",
                    "last_error",
                    "sent_at",
                    "bounced_at",
                    "body_removed_at",
                    "message_id",
                    "in_reply_to",
                    "references",
                    "dedupe_key",
                    "created_at",
                    "updated_at",
                )
            },
        ),
        (
            "Content",
            {"fields": ("body_text", "html_preview", "attachment_path", "attachment_name")},
        ),
    )

    def has_change_permission(self, request, obj=None):
        return False  # shown read-only to anyone who may view it

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is the record of what was sent

    @admin.display(description="Belongs to")
    def belongs_to(self, obj):
        related = obj.related if obj.related_type_id else None
        return admin_link(related) if related is not None else "—"

    @admin.display(description="Contact")
    def contact_link(self, obj):
        return admin_link(obj.contact) if obj.contact_id else "—"

    @admin.display(description="HTML version")
    def html_preview(self, obj):
        if not obj.body_html:
            return "—"
        # Sandboxed: the stored HTML shows as the recipient saw it (its stylesheet inlined as
        # at send time: a <style> element would break the admin's Content-Security-Policy,
        # which the srcdoc inherits), with no scripts or forms.
        return format_html(
            '<iframe sandbox srcdoc="{}" style="width:640px;max-width:100%;height:520px;border:1px solid #ccc">'
            "</iframe>",
            html_inline_css(obj.body_html),
        )

    def get_queryset(self, request):
        return SEND_JOB.annotate(super().get_queryset(request).prefetch_related("related"))

    @admin.display(description="Delivery job")
    def delivery(self, obj):
        return SEND_JOB.text(obj)

    def has_resend_permission(self, request) -> bool:
        """The log is read-only for everyone; sending an email again (to a customer, with
        whatever it carries) needs the model's change permission, which Sales lacks."""
        return request.user.has_perm("contacts.change_outboundemail")

    @admin.action(description="Re-send the selected emails", permissions=["resend"])
    def resend(self, request, queryset):
        # An email being sent or retried is skipped (a second send could double it), and one
        # whose text was removed (retention, erasure) has nothing left to send.
        gone = queryset.filter(body_removed_at__isnull=False).count()
        kept = queryset.filter(body_removed_at__isnull=True)
        queued = sum(email_resend(email=email) for email in kept)
        if gone:
            self.message_user(
                request,
                f"{gone} email(s) whose text was removed can't be re-sent.",
                messages.WARNING,
            )
        if queued:
            self.message_user(request, f"{queued} email(s) queued again.", messages.SUCCESS)
        if skipped := queryset.count() - gone - queued:
            self.message_user(
                request,
                f"{skipped} email(s) being sent or retried right now were skipped.",
                messages.WARNING,
            )


def _status_detail(email: OutboundEmail) -> str:
    """Under an email's status in the log: when it was sent, why it bounced or was held
    back, or what its delivery job is doing (retrying, failed and why)."""
    if email.status == email.Status.SENT and email.sent_at:
        return f"{timezone.localtime(email.sent_at):%Y-%m-%d %H:%M}"
    if email.status in (email.Status.BOUNCED, email.Status.SUPPRESSED):
        return email.last_error[:150]
    return SEND_JOB.text(email)

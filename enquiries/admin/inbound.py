"""Messages read from the inbound mailbox (enquiries/services/inbound.py): the list of
unmatched ones staff file in an enquiry's thread by hand, and every reply and delivery report
as a record. Read-only except the enquiry of an unmatched message, which goes through
`inbound_email_assign`. What a sender wrote is shown as escaped text, never as HTML."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join, linebreaks

from common.admin_fieldsets import HideEmptyReadonlyMixin
from contacts.admin import admin_link

from ..models import InboundEmail
from ..services.inbound import inbound_email_assign

Status = InboundEmail.Status


def attachment_url(inbound: InboundEmail, index: int) -> str:
    return reverse("admin:enquiries_inboundemail_attachment", args=[inbound.pk, index])


def attachment_links(inbound: InboundEmail):
    """The kept attachments as download links, and the refused ones with the reason."""
    kept = format_html_join(
        "",
        "<li><a href='{}'>{}</a> <span class='enq-muted'>{} KB</span></li>",
        (
            (attachment_url(inbound, index), item["name"], max(1, item["size"] // 1024))
            for index, item in enumerate(inbound.attachments)
        ),
    )
    refused = format_html_join(
        "",
        "<li>{} <span class='enq-muted'>refused: {}</span></li>",
        ((item["name"], item["reason"]) for item in inbound.refused_attachments),
    )
    if not kept and not refused:
        return "—"
    return format_html("<ul class='mb-0'>{}{}</ul>", kept, refused)


class UnmatchedFirstFilter(admin.SimpleListFilter):
    """The list opens on what needs a person: unmatched messages."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("all", "All"), *Status.choices]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            selected = self.value() == value or (self.value() is None and value == Status.UNMATCHED)
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or Status.UNMATCHED
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(InboundEmail)
class InboundEmailAdmin(HideEmptyReadonlyMixin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "status",
        "sender",
        "subject",
        "enquiry_link",
        "follow_up_link",
        "problem",
    )
    list_filter = (UnmatchedFirstFilter, "matched_by", "automatic")
    search_fields = ("from_address", "from_name", "subject", "message_id", "body_text")
    list_select_related = ("enquiry__contact", "follow_up__sample_request__report")
    date_hierarchy = "received_at"
    raw_id_fields = ("enquiry",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "enquiry",
                    "follow_up_link",
                    "status",
                    "problem",
                    "matched_by",
                    "assigned",
                )
            },
        ),
        (
            "Message",
            {
                "fields": (
                    "sender",
                    "to_addresses",
                    "subject",
                    "sent_at",
                    "received_at",
                    "reply_text",
                    "attachment_list",
                    "converted_from_html",
                    "automatic",
                    "bounced_email_link",
                )
            },
        ),
        (
            "Whole message and headers",
            {
                "classes": ("collapse",),
                "fields": ("whole_text", "message_id", "in_reply_to", "references", "size"),
            },
        ),
    )
    DISPLAY_ONLY = (
        "assigned",
        "follow_up_link",
        "sender",
        "reply_text",
        "attachment_list",
        "bounced_email_link",
        "whole_text",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = [f.name for f in InboundEmail._meta.fields] + list(self.DISPLAY_ONLY)
        if obj is not None and obj.status in (Status.UNMATCHED, Status.FOLLOW_UP):
            fields.remove("enquiry")  # the one thing staff set: where it belongs
        return fields

    def has_add_permission(self, request):
        return False  # messages come from the mailbox

    def save_model(self, request, obj, form, change):
        """Filing an unmatched message goes through the service (the enquiry reopens, its
        owner is told); nothing else on the row is edited by hand."""
        enquiry = form.cleaned_data.get("enquiry")
        if enquiry is None:
            return
        inbound = inbound_email_assign(
            inbound=InboundEmail.objects.get(pk=obj.pk), enquiry=enquiry, actor=request.user
        )
        if inbound.enquiry_id == enquiry.pk:
            self.message_user(request, f"Filed in {enquiry.reference}'s thread.", messages.SUCCESS)

    # --- Display ---

    @admin.display(description="From", ordering="from_address")
    def sender(self, obj):
        if obj.from_name:
            return format_html("{} &lt;{}&gt;", obj.from_name, obj.from_address)
        return obj.from_address or "—"

    @admin.display(description="Enquiry", ordering="enquiry")
    def enquiry_link(self, obj):
        if obj.enquiry is None:
            return "—"
        url = reverse("admin:enquiries_enquiry_change", args=[obj.enquiry_id]) + "#thread"
        return format_html('<a href="{}">{}</a>', url, obj.enquiry.reference)

    @admin.display(description="Follow-up", ordering="follow_up")
    def follow_up_link(self, obj):
        """The sample follow-up this message answers (its sequence stopped on the reply)."""
        if obj.follow_up_id is None:
            return "—"
        url = reverse("admin:enquiries_followup_change", args=[obj.follow_up_id])
        report = obj.follow_up.sample_request.report
        return format_html('<a href="{}">Follow-up of the sample of {}</a>', url, report.title)

    @admin.display(description="Filed by")
    def assigned(self, obj):
        if obj.assigned_by is None:
            return "—"
        who = obj.assigned_by.get_full_name() or obj.assigned_by.get_username()
        return f"{who}, {obj.assigned_at:%Y-%m-%d %H:%M}"

    @admin.display(description="Reply (quoted history and signature trimmed)")
    def reply_text(self, obj):
        return linebreaks(obj.body_text) if obj.body_text else "—"  # escapes, then <p>/<br>

    @admin.display(description="Whole text")
    def whole_text(self, obj):
        return format_html("<pre class='enq-inbound-whole'>{}</pre>", obj.full_text or "—")

    @admin.display(description="Attachments")
    def attachment_list(self, obj):
        return attachment_links(obj)

    @admin.display(description="Bounced email")
    def bounced_email_link(self, obj):
        return admin_link(obj.bounced_email) if obj.bounced_email_id else "—"

    # --- An attachment, for staff who may view the message ---

    def get_urls(self):
        view = self.admin_site.admin_view(self.attachment_view)
        return [
            path(
                "<int:object_id>/attachment/<int:index>/",
                view,
                name="enquiries_inboundemail_attachment",
            ),
            *super().get_urls(),
        ]

    def attachment_view(self, request, object_id, index):
        inbound = InboundEmail.objects.filter(pk=object_id).first()
        if inbound is None or not self.has_view_permission(request, inbound):
            raise PermissionDenied
        if not 0 <= index < len(inbound.attachments):
            raise Http404
        item = inbound.attachments[index]
        # Always a download, never shown inline: a sender's HTML or SVG must not run here.
        return FileResponse(
            storages["private"].open(item["path"], "rb"),
            as_attachment=True,
            filename=item["name"],
            content_type="application/octet-stream",
        )

"""The sales inbox in Django admin: the enquiry list and an enquiry's page (thread, reply).
Every write goes through enquiries.services.enquiries, the same rules the public form and the
tasks obey. Visitor text is escaped everywhere (format_html / template autoescape)."""

import csv
import re

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from simple_history.admin import SimpleHistoryAdmin

from common.admin_fieldsets import HideEmptyReadonlyMixin
from common.spreadsheets import csv_safe

from .. import sla
from ..models import Enquiry, EnquiryReply, InboundEmail, ReplyTemplate
from ..selectors import enquiry_thread, source_phrase
from ..services import enquiries as services
from ..services.sales_group import SALES_GROUP_NAME
from .filters import (
    CLOSED,
    AnswerFilter,
    OwnerFilter,
    SourceFilter,
    StatusFilter,
    awaiting_answer_q,
    past_sla_q,
)
from .reply_form import ReplyForm

User = get_user_model()


# Shown read-only, folded away, on an enquiry's page: where the lead came from.
TRACKING_FIELDS = (
    "contact_link",
    "name",
    "company",
    "job_title",
    "country",
    "phone",
    "report_link",
    "type",
    "licence",
    "created_at",
    "first_response_at",
    "answered_at",
    "source_text",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "landing_page",
    "referrer",
    "ip",
    "user_agent",
    "is_free_mail",
    "consent_version",
    "consent_at",
    "about_upcoming_report",
    "notified_on_publish_at",
)


@admin.register(Enquiry)
class EnquiryAdmin(HideEmptyReadonlyMixin, SimpleHistoryAdmin):
    change_form_template = "admin/enquiries/enquiry/change_form.html"
    change_list_template = "admin/enquiries/enquiry/change_list.html"
    list_display = (
        "reference_column",
        "status_column",
        "contact_column",
        "enquiry_column",
        "source_column",
        "response_column",
    )
    list_display_links = ("reference_column",)
    list_filter = (
        StatusFilter,
        OwnerFilter,
        AnswerFilter,
        "type",
        SourceFilter,
        ("report", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = (
        "contact__email",
        "contact__name",
        "contact__company",
        "question",
        "report__title",
        "utm_campaign",
    )
    search_help_text = "Name, email, company, question, report title, campaign or ENQ-number."
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ("assign_to_me", "mark_spam", "export_csv")
    fieldsets = (
        ("Handling", {"fields": ("status", "owner", "staff_notes")}),
        (
            "Details and tracking",
            {
                "classes": ("collapse",),
                "fields": TRACKING_FIELDS,
            },
        ),
    )
    readonly_fields = TRACKING_FIELDS

    class Media:
        css = {"all": ("enquiries/admin/inbox.css",)}

    # --- Queries ---

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("contact", "report", "owner", "licence")
            .annotate(reply_count=Count("replies"))
        )

    def get_search_results(self, request, queryset, search_term):
        """A reference like "ENQ-000123" (or "enq123") finds that enquiry directly."""
        match = re.fullmatch(r"\s*ENQ-?0*(\d+)\s*", search_term, flags=re.IGNORECASE)
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request):
        return False  # enquiries come from the public form

    def revert_disabled(self, request, obj=None):
        return True  # history is a record, not an undo button

    def history_view(self, request, object_id, extra_context=None):
        # simple_history looks the object up by the raw id; Django's own views answer 404 for an
        # id the primary key cannot hold ("x", or past bigint), so this one does too (the history
        # of a deleted enquiry stays readable: only the id's form is checked).
        try:
            self.model._meta.pk.get_prep_value(unquote(object_id))
        except (ValidationError, ValueError, TypeError):
            raise Http404 from None
        return super().history_view(request, object_id, extra_context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name != "owner":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        kwargs["queryset"] = (
            User.objects.filter(
                Q(groups__name=SALES_GROUP_NAME) | Q(is_superuser=True), is_active=True
            )
            .distinct()
            .order_by("first_name", "username")
        )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.label_from_instance = lambda user: user.get_full_name() or user.get_username()
        field.empty_label = "Unassigned"
        return field

    def save_model(self, request, obj, form, change):
        """The change form's edits (status, owner, notes) go through the service, which
        keeps status and owner consistent and records who made the change."""
        original = Enquiry.objects.get(pk=obj.pk)
        services.enquiry_update(
            enquiry=original,
            actor=request.user,
            status=form.cleaned_data["status"],
            owner=form.cleaned_data["owner"],
            staff_notes=form.cleaned_data["staff_notes"],
        )

    # --- List columns ---

    @admin.display(description="Received", ordering="created_at")
    def reference_column(self, obj):
        return format_html(
            "{}<div class='enq-muted' title='{}'>{} ago</div>",
            obj.reference,
            timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M"),
            timesince(obj.created_at, depth=1),
        )

    @admin.display(description="Status · owner", ordering="status")
    def status_column(self, obj):
        replies = f"{obj.reply_count} repl{'y' if obj.reply_count == 1 else 'ies'}"
        return format_html(
            '<span class="enq-status enq-status-{}">{}</span><div class="enq-owner">{}</div>'
            '<div class="enq-muted">{}</div>',
            obj.status,
            obj.get_status_display(),
            self.owner_column(obj),
            replies if obj.reply_count else "",
        )

    @admin.display(description="Contact", ordering="contact__name")
    def contact_column(self, obj):
        return format_html(
            "<strong>{}</strong> · {}<div class='enq-muted'>{}{}</div>",
            obj.contact.name,
            obj.contact.company,
            obj.contact.email,
            " · free mail" if obj.is_free_mail else "",
        )

    @admin.display(description="Enquiry", ordering="type")
    def enquiry_column(self, obj):
        licence = f" · {obj.licence.get_kind_display()}" if obj.licence else ""
        return format_html(
            "{}{}<div class='enq-muted enq-report' title='{}'>#{} {}{}</div>",
            obj.get_type_display(),
            licence,
            obj.report.title,
            obj.report.number,
            obj.report.market_name,
            " (upcoming)" if obj.about_upcoming_report else "",
        )

    @admin.display(description="Source", ordering="utm_source")
    def source_column(self, obj):
        channel = " / ".join(p for p in (obj.utm_source, obj.utm_medium) if p) or "direct"
        return format_html("{}<div class='enq-muted'>{}</div>", channel, obj.utm_campaign)

    @admin.display(description="First response", ordering="first_response_at")
    def response_column(self, obj):
        return format_html('<span class="enq-sla {}" title="{}">{}</span>', *response_summary(obj))

    @admin.display(description="Owner", ordering="owner__first_name")
    def owner_column(self, obj):
        if obj.owner is None:
            return format_html('<span class="enq-unassigned">{}</span>', "unassigned")
        return obj.owner.get_full_name() or obj.owner.get_username()

    # --- Read-only fields on the change page ---

    @admin.display(description="Contact")
    def contact_link(self, obj):
        url = reverse("admin:contacts_contact_change", args=[obj.contact_id])
        return format_html('<a href="{}">{}</a> — {}', url, obj.contact, obj.contact.company)

    @admin.display(description="Report")
    def report_link(self, obj):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            obj.report.get_absolute_url(),
            obj.report,
        )

    @admin.display(description="Source")
    def source_text(self, obj):
        return source_phrase(obj)

    # --- Actions ---

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        for enquiry in queryset:
            services.enquiry_assign(enquiry=enquiry, owner=request.user, actor=request.user)
        self.message_user(request, f"{queryset.count()} enquiries assigned to you.")

    @admin.action(description="Mark as spam", permissions=["change"])
    def mark_spam(self, request, queryset):
        for enquiry in queryset:
            services.enquiry_status_set(
                enquiry=enquiry, status=Enquiry.Status.SPAM, actor=request.user
            )
        self.message_user(request, f"{queryset.count()} enquiries marked as spam.")

    @admin.action(description="Export as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="enquiries-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for enquiry in queryset.order_by("created_at"):
            writer.writerow([csv_safe(value) for value in csv_row(enquiry)])
        return response

    def changelist_view(self, request, extra_context=None):
        extra_context = {"inbox_counts": inbox_counts(user=request.user), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    # --- The change page: thread and reply ---

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="enquiries_enquiry_reply",
            ),
            path(
                "<path:object_id>/reply/<int:reply_id>/retry/",
                self.admin_site.admin_view(self.reply_retry_view),
                name="enquiries_enquiry_reply_retry",
            ),
            path(
                "<path:object_id>/reply/<int:reply_id>/withdraw-quote/",
                self.admin_site.admin_view(self.quote_revoke_view),
                name="enquiries_enquiry_quote_revoke",
            ),
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        enquiry = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if enquiry is not None:
            extra_context.setdefault("reply_form", self._reply_form_initial(request, enquiry))
            extra_context.update(self._thread_context(request, enquiry))
        return super().change_view(request, object_id, form_url, extra_context)

    def reply_view(self, request, object_id):
        enquiry = self.get_object(request, object_id)
        if enquiry is None:
            raise PermissionDenied
        if request.method != "POST" or not self.can_reply(request, enquiry):
            raise PermissionDenied
        form = ReplyForm(request.POST, enquiry=enquiry)
        if form.is_valid() and self._reply_send(request, enquiry, form):
            return HttpResponseRedirect(self._change_url(enquiry) + "#thread")
        # Show the page again with the reply's errors (the change form still posts to itself).
        request.method = "GET"
        return self.change_view(
            request,
            object_id,
            form_url=self._change_url(enquiry),
            extra_context={"reply_form": form},
        )

    def reply_retry_view(self, request, object_id, reply_id):
        enquiry = self.get_object(request, object_id)
        if enquiry is None or request.method != "POST" or not self.can_reply(request, enquiry):
            raise PermissionDenied
        reply = get_object_or_404(EnquiryReply, pk=reply_id, enquiry=enquiry)
        services.enquiry_reply_retry(reply=reply)
        self.message_user(request, "The reply will be prepared and sent again.")
        return HttpResponseRedirect(self._change_url(enquiry) + "#thread")

    def quote_revoke_view(self, request, object_id, reply_id):
        enquiry = self.get_object(request, object_id)
        if enquiry is None or request.method != "POST" or not self.can_reply(request, enquiry):
            raise PermissionDenied
        reply = get_object_or_404(EnquiryReply, pk=reply_id, enquiry=enquiry)
        services.enquiry_quote_revoke(reply=reply, actor=request.user)
        self.message_user(request, "The special price is withdrawn: its link no longer works.")
        return HttpResponseRedirect(self._change_url(enquiry) + "#thread")

    def can_reply(self, request, enquiry) -> bool:
        return self.has_change_permission(request, enquiry) and request.user.has_perm(
            "enquiries.add_enquiryreply"
        )

    def _reply_send(self, request, enquiry, form) -> bool:
        data = form.cleaned_data
        try:
            services.enquiry_reply_send(
                enquiry=enquiry,
                author=request.user,
                subject=data["subject"],
                body=data["body"],
                attach_sample=data["attach_sample"],
                licence=data["licence"],
                quoted_price=data["quoted_price"],
                currency=data["currency"],
                template=data["template"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return False
        self.message_user(request, f"Reply to {enquiry.contact.email} is on its way.")
        return True

    def _reply_form_initial(self, request, enquiry) -> ReplyForm:
        """A blank reply, or one started from a canned template (?reply_template=<pk>: a
        plain link, so it works without JavaScript)."""
        first_name = enquiry.contact.name.split()[0] if enquiry.contact.name else ""
        initial = {
            "subject": f"Re: your question about {enquiry.report.market_name}",
            "body": f"Dear {first_name},\n\n",
            "licence": enquiry.licence,
        }
        template_id = request.GET.get("reply_template", "")
        template = (
            ReplyTemplate.objects.filter(pk=template_id, is_active=True).first()
            if template_id.isascii() and template_id.isdigit() and len(template_id) <= 18
            else None
        )
        if template:
            subject, body = services.reply_template_render(
                template=template, enquiry=enquiry, author=request.user
            )
            initial.update(template=template, subject=subject, body=body)
        return ReplyForm(initial=initial, enquiry=enquiry)

    def _thread_context(self, request, enquiry) -> dict:
        return {
            "enquiry": enquiry,
            "thread": enquiry_thread(enquiry=enquiry),
            "reply_templates": ReplyTemplate.objects.filter(is_active=True),
            "can_reply": self.can_reply(request, enquiry),
            "reply_url": reverse("admin:enquiries_enquiry_reply", args=[enquiry.pk]),
            "response": response_summary(enquiry),
            "due_at": sla.sla_deadline(enquiry.created_at),
            "business_tz": settings.ENQUIRY_BUSINESS_TIME_ZONE,
            "source": source_phrase(enquiry),
            "from_email": settings.DEFAULT_FROM_EMAIL,
            "reply_to": services.reply_to_address(request.user),
            "active_template": request.GET.get("reply_template", ""),
        }

    def _change_url(self, enquiry) -> str:
        return reverse("admin:enquiries_enquiry_change", args=[enquiry.pk])


def inbox_counts(*, user) -> dict:
    """The shortcut bar above the inbox: what needs doing, in one query."""
    awaiting = awaiting_answer_q()
    counts = Enquiry.objects.aggregate(
        unanswered=Count("pk", filter=awaiting),
        overdue=Count("pk", filter=past_sla_q(sla.sla_overdue_cutoff())),
        mine_unanswered=Count("pk", filter=awaiting & Q(owner=user)),
        mine_waiting=Count("pk", filter=Q(owner=user, status=Enquiry.Status.WAITING)),
        unassigned=Count("pk", filter=Q(owner__isnull=True) & ~Q(status__in=CLOSED)),
    )
    # Customers' emails the mailbox could not file in a thread: a person assigns them.
    counts["unmatched_replies"] = InboundEmail.objects.filter(
        status=InboundEmail.Status.UNMATCHED
    ).count()
    return {**counts, "promise": sla.sla_promise_text()}


def response_summary(enquiry: Enquiry) -> tuple[str, str, str]:
    """(css class, tooltip, text) for the first-response cell: the business time the first
    answer took, or how long is left / how late it is for an unanswered enquiry."""
    promise = (
        f"SLA: {sla.sla_promise_text()} ({settings.ENQUIRY_SLA_BUSINESS_HOURS} business hours)"
    )
    limit = settings.ENQUIRY_SLA_BUSINESS_HOURS
    if enquiry.status == Enquiry.Status.REPLIED and enquiry.customer_replied_at:
        # The customer answered: the clock runs again from their reply.
        elapsed = sla.business_hours_between(enquiry.customer_replied_at, timezone.now())
        if elapsed > limit:
            return "sla-late", promise, f"reply overdue {sla.duration_text(elapsed - limit)}"
        return "sla-open", promise, f"reply due in {sla.duration_text(limit - elapsed)}"
    if enquiry.first_response_at:
        took = sla.business_hours_between(enquiry.created_at, enquiry.first_response_at)
        css = "sla-late" if took > limit else "sla-ok"
        return css, promise, sla.duration_text(took)
    if enquiry.status not in Enquiry.AWAITING_ANSWER:
        return "sla-none", promise, "—"
    elapsed = sla.business_hours_between(enquiry.created_at, timezone.now())
    if elapsed > limit:
        return "sla-late", promise, f"overdue {sla.duration_text(elapsed - limit)}"
    return "sla-open", promise, f"due in {sla.duration_text(limit - elapsed)}"


CSV_COLUMNS = [
    "reference",
    "created_at",
    "status",
    "owner",
    "report_number",
    "report_title",
    "type",
    "licence",
    "name",
    "email",
    "company",
    "job_title",
    "country",
    "phone",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "first_response_business_hours",
    "question",
]


def csv_row(enquiry: Enquiry) -> list:
    contact = enquiry.contact
    took = (
        round(sla.business_hours_between(enquiry.created_at, enquiry.first_response_at), 2)
        if enquiry.first_response_at
        else ""
    )
    return [
        enquiry.reference,
        enquiry.created_at.isoformat(),
        enquiry.get_status_display(),
        enquiry.owner.get_username() if enquiry.owner else "",
        enquiry.report.number,
        enquiry.report.title,
        enquiry.get_type_display(),
        enquiry.licence.get_kind_display() if enquiry.licence else "",
        contact.name,
        contact.email,
        contact.company,
        contact.job_title,
        contact.country.code if contact.country else "",
        str(contact.phone) if contact.phone else "",
        enquiry.utm_source,
        enquiry.utm_medium,
        enquiry.utm_campaign,
        took,
        enquiry.question,
    ]


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "subject", "is_active", "position", "updated_at")
    list_editable = ("is_active", "position")
    search_fields = ("name", "subject", "body")

"""Admin for orders and Stripe events: the order with its timeline, deliverable, links and
downloads; staff actions (refund, re-send or extend links, prepare the report again); the
Stripe event log with "process again"; and a sales summary. Every action calls the same
service the site, the webhook and the tasks use."""

import csv
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.admin import JobColumn
from common.admin_fieldsets import HideEmptyReadonlyMixin
from common.admin_filters import occurring_values_filter
from common.money import money_text
from common.spreadsheets import csv_safe
from contacts.models import ATTRIBUTION_FIELDS, Contact

from . import journey
from .models import (
    Deliverable,
    DownloadLink,
    DownloadLog,
    EditionNotice,
    Order,
    OrderEvent,
    Seat,
    StripeEvent,
)
from .selectors import invoice_days_overdue, invoices_open, sales_summary
from .services import downloads, fulfilment, invoices, refunds, seats, webhooks
from .services.stripe_client import StripeUnavailable

EVENT_JOB = JobColumn(webhooks.JOB)
DELIVERABLE_JOB = JobColumn(fulfilment.DELIVERABLE_JOB)
NO_LIVE_LINK = (
    "Expired, used-up and revoked links stay closed (their address may have been passed on); "
    "for a fulfilled order, use “Re-send download link” to email a fresh one."
)


def _stripe_dashboard(kind: str, stripe_id: str) -> str:
    if not stripe_id:
        return "—"
    mode = "test/" if settings.STRIPE_SECRET_KEY.startswith(("sk_test", "rk_test")) else ""
    url = f"https://dashboard.stripe.com/{mode}{kind}/{stripe_id}"
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, stripe_id)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name_plural = "timeline"
    fields = ["created_at", "kind", "message", "stripe_event", "actor"]
    readonly_fields = fields


class DeliverableInline(ReadOnlyInline):
    model = Deliverable
    fields = ["path", "created_at"]
    readonly_fields = fields


class SeatInline(admin.TabularInline):
    """The licence's named seats. A new row names a colleague for the next free seat; a
    changed name or email gives the seat to someone else (the old holder's links stop). Both
    go through the buyer's own services (orders/services/seats.py), from `save_formset`."""

    model = Seat
    extra = 0
    can_delete = False
    fields = ["number", "name", "email", "prepared_at", "released_at", "error"]
    readonly_fields = ["number", "prepared_at", "released_at", "error"]

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("released_at", "number")


class DownloadLinkInline(ReadOnlyInline):
    model = DownloadLink
    fields = ["created_at", "seat", "expires_at", "download_count", "max_downloads", "revoked_at"]
    fields += ["revoke_reason"]
    readonly_fields = fields


class EditionNoticeInline(ReadOnlyInline):
    """New editions of the report: who was sent the edition or an upgrade offer, who was
    skipped and why, and a copy that could not be prepared (orders/services/editions.py)."""

    model = EditionNotice
    fields = ["edition", "kind", "seat", "offer_price", "sent_at", "skipped", "error"]
    readonly_fields = fields


class DownloadLogInline(ReadOnlyInline):
    model = DownloadLog
    verbose_name_plural = "downloads log"
    fields = ["downloaded_at", "link", "ip", "user_agent"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(HideEmptyReadonlyMixin, admin.ModelAdmin):
    change_form_template = "admin/orders/order/change_form.html"
    change_list_template = "admin/orders/order/change_list.html"
    view_on_site = False  # the buyer's page needs their browser session or Stripe session id
    # Six dense columns that fit beside the filters at 1280 px (issue 26); the campaign is a
    # filter and on the order's page.
    list_display = [
        "order_column",
        "status",
        "report_column",
        "buyer_column",
        "amount",
        "attention",
    ]
    list_display_links = ["order_column"]
    list_filter = [
        "status",
        "currency",
        "payment_route",
        occurring_values_filter("invoice_status", "invoice status"),
        "needs_attention",
        "amount_mismatch",
        occurring_values_filter("licence_kind", "licence"),
        "price_source",
        occurring_values_filter("payment_method_type", "payment method"),
        occurring_values_filter("utm_source", "campaign source"),
        occurring_values_filter("utm_campaign", "campaign"),
    ]
    search_fields = [
        "reference",
        "buyer_email",
        "buyer_company",
        "buyer_name",
        "stripe_session_id",
        "stripe_payment_intent_id",
        "stripe_invoice_number",
        "stripe_invoice_id",
        "tax_id_value",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["report"]
    inlines = [
        OrderEventInline,
        DeliverableInline,
        SeatInline,
        DownloadLinkInline,
        DownloadLogInline,
        EditionNoticeInline,
    ]
    actions = ["resend_links", "extend_links"]
    # Grouped as the desk reads an order: what was bought and whether it needs a person, who
    # bought it, the money, the invoice, delivery, then the dates; Stripe's references, the
    # abandoned-checkout recovery and the attribution are folded away. Empty read-only fields
    # are left out of the page (HideEmptyReadonlyMixin).
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("reference", "status"),
                    ("report", "licence_name", "price_line"),
                    ("needs_attention", "attention_note"),
                    "amount_mismatch",
                ]
            },
        ),
        (
            "Buyer",
            {
                "fields": [
                    ("buyer_name", "buyer_email"),
                    ("buyer_company", "billing_country"),
                    ("buyer_vat_id", "tax_id_line"),
                    "contact",
                    "buyer_journey",
                    "buyer_history",
                ]
            },
        ),
        (
            "Payment",
            {
                "fields": [
                    ("payment_route", "payment_method_description", "stripe_payment"),
                    ("subtotal", "discount", "tax"),
                    ("paid", "refunded", "promotion_code"),
                ]
            },
        ),
        (
            "Invoice and credit note",
            {
                "fields": [
                    "invoice_line",
                    ("invoice_status", "invoice_due_at", "days_overdue"),
                    ("invoice_sent_at", "invoice_overdue_at"),
                    "stripe_customer",
                    "credit_note_line",
                ]
            },
        ),
        ("Delivery", {"fields": ["deliverable_job", "deliverable_error"]}),
        (
            "Dates",
            {
                "fields": [
                    ("created_at", "paid_at", "fulfilled_at"),
                    ("refunded_at", "disputed_at", "closed_at"),
                ]
            },
        ),
        (
            "Stripe references",
            {
                "classes": ["collapse"],
                "fields": [
                    "stripe_session",
                    ("stripe_payment_status", "payment_method_type"),
                    "stripe_refund_id",
                ],
            },
        ),
        (
            "Abandoned checkout",
            {
                "classes": ["collapse"],
                "fields": [
                    "abandoned_session_id",
                    "promotions_consent",
                    "recovery_url",
                    ("recovery_expires_at", "recovered_at"),
                ],
            },
        ),
        (
            "Attribution (first touch)",
            {
                "classes": ["collapse"],
                "fields": ATTRIBUTION_FIELDS,
            },
        ),
    ]
    # Orders are records of money taken: only the attention flag is edited by hand.
    editable_fields = ("needs_attention", "attention_note")

    def save_formset(self, request, form, formset, change):
        if formset.model is not Seat:
            return super().save_formset(request, form, formset, change)
        for seat_form in formset.forms:
            if seat_form.has_changed() and seat_form.is_valid():
                self._seat_save(request, form.instance, seat_form)
        # What the admin's change message reads after formset.save(); the order's timeline
        # records each seat named or reassigned.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None

    def _seat_save(self, request, order, seat_form):
        data, seat = seat_form.cleaned_data, seat_form.instance
        try:
            if seat.pk is None:
                seats.seat_add(
                    order=order, name=data["name"], email=data["email"], actor=request.user
                )
            else:
                seats.seat_reassign(
                    seat=Seat.objects.get(pk=seat.pk),
                    name=data["name"],
                    email=data["email"],
                    actor=request.user,
                )
        except seats.SeatNotAllowed as exc:
            messages.error(request, str(exc))

    def get_readonly_fields(self, request, obj=None):
        every = flatten_fieldsets(self.fieldsets)
        return [name for name in every if name not in self.editable_fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- List columns ---------------------------------------------------------------------

    @admin.display(description="order", ordering="created_at")
    def order_column(self, obj):
        created = timezone.localtime(obj.created_at)
        return format_html(
            '<span class="list-nowrap">{}</span><div class="list-sub list-nowrap">{}</div>',
            obj.reference,
            f"{created:%Y-%m-%d %H:%M}",
        )

    @admin.display(description="report · licence", ordering="report__number")
    def report_column(self, obj):
        return format_html(
            '<span title="{}">{}</span><div class="list-sub">{}</div>',
            obj.report.title,
            obj.report.number,
            obj.licence_name,
        )

    @admin.display(description="buyer", ordering="buyer_company")
    def buyer_column(self, obj):
        return format_html(
            '{} · {}<div class="list-sub list-email">{}</div>',
            obj.buyer_name,
            obj.buyer_company or "no company",
            obj.buyer_email,
        )

    @admin.display(description="amount", ordering=Coalesce("amount_paid", "price"))
    def amount(self, obj):
        value = obj.amount_paid if obj.amount_paid is not None else obj.price
        return format_html('<span class="list-nowrap">{}</span>', money_text(value, obj.currency))

    @admin.display(description="attention", ordering="-needs_attention")
    def attention(self, obj):
        """Said in words, only when set (a red cross on every other order read as alarm)."""
        if not obj.needs_attention:
            return ""
        note = obj.attention_note
        return format_html(
            '<strong class="list-alert">Needs attention</strong><div class="list-sub" title="{}">{}</div>',
            note,
            note if len(note) <= 80 else f"{note[:79]}…",
        )

    # --- Read-only fields on the order's page -------------------------------------------

    @admin.display(description="price")
    def price_line(self, obj):
        return f"{money_text(obj.price, obj.currency)} ({obj.get_price_source_display()})"

    @admin.display(description="subtotal")
    def subtotal(self, obj):
        return money_text(obj.amount_subtotal, obj.currency) or "—"

    @admin.display(description="discount")
    def discount(self, obj):
        return money_text(obj.amount_discount, obj.currency) or "—"

    @admin.display(description="tax (as Stripe Tax computed it)")
    def tax(self, obj):
        return money_text(obj.amount_tax, obj.currency) or "—"

    @admin.display(description="paid")
    def paid(self, obj):
        return money_text(obj.amount_paid, obj.currency) or "—"

    @admin.display(description="refunded")
    def refunded(self, obj):
        return money_text(obj.amount_refunded, obj.currency) if obj.amount_refunded else "—"

    @admin.display(description="tax ID collected by Stripe")
    def tax_id_line(self, obj):
        if not obj.tax_id_value:
            return "—"
        return f"{obj.tax_id_value} ({obj.tax_id_type})" if obj.tax_id_type else obj.tax_id_value

    @admin.display(description="Stripe invoice")
    def invoice_line(self, obj):
        if not obj.stripe_invoice_id:
            return "—"
        label = obj.stripe_invoice_number or obj.stripe_invoice_id
        parts = [_stripe_dashboard("invoices", obj.stripe_invoice_id)]
        if obj.stripe_invoice_url:
            parts.append(format_html('<a href="{}">hosted page</a>', obj.stripe_invoice_url))
        if obj.stripe_invoice_pdf:
            parts.append(format_html('<a href="{}">PDF</a>', obj.stripe_invoice_pdf))
        return format_html("{} — {}", label, format_html_join(", ", "{}", ((p,) for p in parts)))

    @admin.display(description="days overdue")
    def days_overdue(self, obj):
        if obj.invoice_status != "open" or obj.invoice_due_at is None:
            return "—"
        return invoice_days_overdue(obj, today=timezone.localdate())

    @admin.display(description="Stripe customer")
    def stripe_customer(self, obj):
        return _stripe_dashboard("customers", obj.stripe_customer_id)

    @admin.display(description="credit note")
    def credit_note_line(self, obj):
        if not obj.stripe_credit_note_id:
            return "—"
        link = _stripe_dashboard("credit_notes", obj.stripe_credit_note_id)
        return format_html("{} ({})", obj.stripe_credit_note_number or "no number", link)

    @admin.display(description="preparation job")
    def deliverable_job(self, obj):
        return DELIVERABLE_JOB.text(obj)

    @admin.display(description="Checkout Session")
    def stripe_session(self, obj):
        return obj.stripe_session_id or "—"

    @admin.display(description="payment")
    def stripe_payment(self, obj):
        return _stripe_dashboard("payments", obj.stripe_payment_intent_id)

    @admin.display(description="journey")
    def buyer_journey(self, obj):
        return journey.buyer_journey(obj)

    @admin.display(description="earlier activity")
    def buyer_history(self, obj):
        """Links to everything else this contact did (sample requests, enquiries, orders),
        found through the contact's reverse relations, whichever apps define them."""
        if obj.contact_id is None:
            return "—"
        rows = []
        for relation in Contact._meta.related_objects:
            if not relation.one_to_many:
                continue
            model = relation.related_model
            count = model._default_manager.filter(**{relation.field.name: obj.contact_id})
            count = count.count()
            url = _changelist_url(model, f"{relation.field.name}__id__exact={obj.contact_id}")
            if count and url:
                rows.append((url, model._meta.verbose_name_plural, count))
        if not rows:
            return "—"
        return format_html_join(", ", '<a href="{}">{}: {}</a>', rows)

    # --- Actions on selected orders ----------------------------------------------------

    @admin.action(
        description="Re-send a fresh download link (fulfilled orders)", permissions=["change"]
    )
    def resend_links(self, request, queryset):
        sent = 0
        for order in queryset.filter(status=Order.Status.FULFILLED):
            downloads.download_link_reissue(order=order, actor=request.user)
            sent += 1
        self.message_user(request, f"Sent a new link for {sent} order(s).", messages.SUCCESS)

    @admin.action(
        description="Extend live download links by the standard period", permissions=["change"]
    )
    def extend_links(self, request, queryset):
        extended = 0
        for order in queryset.filter(status=Order.Status.FULFILLED):
            extended += downloads.download_links_extend(order=order, actor=request.user)
        self.message_user(request, f"Extended {extended} live link(s).", messages.SUCCESS)
        if extended < queryset.count():
            self.message_user(request, NO_LIVE_LINK, messages.WARNING)

    # --- Per-order buttons and the sales page ------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("sales/", wrap(self.sales_view), name="orders_order_sales"),
            path("sales/csv/", wrap(self.sales_csv_view), name="orders_order_sales_csv"),
            path("invoices/", wrap(self.invoices_view), name="orders_order_invoices"),
            path(
                "<int:pk>/invoice-paid/",
                wrap(self.invoice_paid_view),
                name="orders_order_invoice_paid",
            ),
            path(
                "<int:pk>/invoice-void/",
                wrap(self.invoice_void_view),
                name="orders_order_invoice_void",
            ),
            path("<int:pk>/refund/", wrap(self.refund_view), name="orders_order_refund"),
            path("<int:pk>/resend/", wrap(self.resend_view), name="orders_order_resend"),
            path("<int:pk>/extend/", wrap(self.extend_view), name="orders_order_extend"),
            path("<int:pk>/prepare/", wrap(self.prepare_view), name="orders_order_prepare"),
            *super().get_urls(),
        ]

    def _order_for_change(self, request, pk) -> Order:
        order = get_object_or_404(Order, pk=pk)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        return order

    def refund_view(self, request, pk):
        order = self._order_for_change(request, pk)
        if not request.user.has_perm("orders.refund_order"):
            raise PermissionDenied
        if request.method != "POST":
            context = {**self.admin_site.each_context(request), "order": order}
            context["opts"] = self.model._meta
            context["title"] = f"Refund order {order.reference}"
            return TemplateResponse(request, "admin/orders/order/refund_confirm.html", context)
        try:
            refunds.order_refund(order=order, actor=request.user)
        except (refunds.RefundNotAllowed, StripeUnavailable) as exc:
            self.message_user(request, f"Not refunded: {exc}", messages.ERROR)
        else:
            self.message_user(
                request, f"Refunded {order.reference}; its download links are revoked."
            )
        return redirect("admin:orders_order_change", order.pk)

    def resend_view(self, request, pk):
        order = self._order_for_change(request, pk)
        if request.method == "POST":
            try:
                downloads.download_link_reissue(order=order, actor=request.user)
            except downloads.DownloadUnavailable:
                self.message_user(request, "Only fulfilled orders have links.", messages.ERROR)
            else:
                self.message_user(request, f"A new link was emailed to {order.buyer_email}.")
        return redirect("admin:orders_order_change", order.pk)

    def extend_view(self, request, pk):
        order = self._order_for_change(request, pk)
        if request.method == "POST":
            if downloads.download_links_extend(order=order, actor=request.user):
                self.message_user(request, "The live link was extended.")
            else:
                self.message_user(request, NO_LIVE_LINK, messages.WARNING)
        return redirect("admin:orders_order_change", order.pk)

    def prepare_view(self, request, pk):
        order = self._order_for_change(request, pk)
        if request.method == "POST" and order.status == Order.Status.PAID:
            fulfilment.order_deliverable_retry(order=order, actor=request.user)
            self.message_user(request, "The report is being prepared again.")
        return redirect("admin:orders_order_change", order.pk)

    # --- Invoices: the open list, paid out of band, void --------------------------------

    def invoices_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = invoices_open(today=timezone.localdate())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Open and overdue invoices",
            "rows": rows,
            "overdue": sum(1 for row in rows if row.days_overdue),
        }
        return TemplateResponse(request, "admin/orders/order/invoices.html", context)

    def _invoice_order(self, request, pk) -> Order:
        order = self._order_for_change(request, pk)
        if not request.user.has_perm("orders.settle_invoice"):
            raise PermissionDenied
        return order

    def _invoice_confirm(self, request, order, *, action, reason_error=""):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "order": order,
            "action": action,
            "reason_error": reason_error,
            "title": f"{'Mark paid out of band' if action == 'paid' else 'Void'}: "
            f"invoice {order.stripe_invoice_number} of order {order.reference}",
        }
        return TemplateResponse(request, "admin/orders/order/invoice_confirm.html", context)

    def invoice_paid_view(self, request, pk):
        """Staff record a payment made outside Stripe (a wire to the publisher's own bank),
        with a required reason; the order is fulfilled exactly once."""
        order = self._invoice_order(request, pk)
        if request.method != "POST":
            return self._invoice_confirm(request, order, action="paid")
        reason = request.POST.get("reason", "").strip()
        if not reason:
            return self._invoice_confirm(
                request,
                order,
                action="paid",
                reason_error="Give the reason (e.g. the bank's reference).",
            )
        try:
            result = invoices.invoice_mark_paid_out_of_band(
                order=order, reason=reason, actor=request.user
            )
        except (invoices.InvoiceNotAllowed, StripeUnavailable) as exc:
            self.message_user(request, f"Not marked paid: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Invoice {order.stripe_invoice_number}: {result}.")
        return redirect("admin:orders_order_change", order.pk)

    def invoice_void_view(self, request, pk):
        order = self._invoice_order(request, pk)
        if request.method != "POST":
            return self._invoice_confirm(request, order, action="void")
        try:
            result = invoices.invoice_void(order=order, actor=request.user)
        except (invoices.InvoiceNotAllowed, StripeUnavailable) as exc:
            self.message_user(request, f"Not voided: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Invoice {order.stripe_invoice_number}: {result}.")
        return redirect("admin:orders_order_change", order.pk)

    def _sales_period(self, request) -> tuple[int, datetime, datetime]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = _int(request.GET.get("days"), default=30, low=1, high=3660)
        until = timezone.now()
        return days, until - timedelta(days=days), until

    def sales_view(self, request):
        days, since, until = self._sales_period(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Sales in the last {days} days",
            "days": days,
            "since": since,
            "until": until,
            "summary": sales_summary(since=since, until=until),
        }
        return TemplateResponse(request, "admin/orders/order/sales.html", context)

    def sales_csv_view(self, request):
        """The sales page as one CSV table: a row per group and currency, amounts in that
        currency only (a spreadsheet that adds the column up must filter by currency)."""
        days, since, until = self._sales_period(request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="sales-{since:%Y%m%d}-{until:%Y%m%d}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(SALES_CSV_COLUMNS)
        for row in _sales_csv_rows(sales_summary(since=since, until=until)):
            writer.writerow([csv_safe(value) for value in row])
        return response


SALES_CSV_COLUMNS = (
    *("group", "report number", "report title", "licence"),
    *("utm_campaign", "utm_source", "utm_medium", "currency", "orders", "amount"),
)


def _sales_csv_rows(summary: dict):
    """(group, report, licence, campaign…, currency, orders, amount) per summary row."""
    for group, amount in (
        ("total", "revenue"),
        ("by_report", "revenue"),
        ("by_licence", "revenue"),
        ("by_campaign", "revenue"),
        ("refunded", "amount"),
    ):
        for row in summary["totals" if group == "total" else group]:
            yield (
                group,
                row.get("report__number", ""),
                row.get("report__title", ""),
                row.get("licence", ""),
                *(row.get(name, "") for name in ("utm_campaign", "utm_source", "utm_medium")),
                row["currency"],
                row["orders"],
                f"{row[amount]:.2f}" if row[amount] is not None else "",
            )


def _int(value, *, default, low, high) -> int:
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError):
        return default


def _changelist_url(model, query: str) -> str:
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except NoReverseMatch:
        return ""
    return f"{url}?{query}"


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "type", "status", "result", "processing", "received_at", "order"]
    list_filter = ["status", "type", "livemode"]
    search_fields = ["stripe_id", "order__reference"]
    date_hierarchy = "received_at"
    list_select_related = ["order"]
    actions = ["process_again"]
    fields = [
        "stripe_id",
        "type",
        "status",
        "result",
        "last_error",
        "processing",
        "order",
        "livemode",
        "api_version",
        "stripe_created",
        "received_at",
        "processed_at",
        "payload_pretty",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return EVENT_JOB.annotate(super().get_queryset(request))

    @admin.display(description="Processing job")
    def processing(self, obj):
        return EVENT_JOB.text(obj)

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        text = json.dumps(obj.payload, indent=2, sort_keys=True)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    @admin.action(description="Process again", permissions=["change"])
    def process_again(self, request, queryset):
        for event in queryset:
            webhooks.stripe_event_reprocess(event=event)
        self.message_user(request, f"{queryset.count()} event(s) queued for processing.")

"""Pay by invoice: a Stripe invoice the buyer pays by bank transfer, and what staff and
Stripe do with it afterwards. Stripe Invoicing does the work (numbering, the hosted page
with the bank details, the PDF, reminders, matching the transfer); we keep the order in
step with it.

Issuing (`invoice_issue`), for an order created with payment_route "invoice":
Customer (with the buyer's VAT ID as a tax ID) → draft Invoice (send_invoice, due in
INVOICE_DUE_DAYS, bank transfer through the customer balance as its only payment method) →
InvoiceItem on it → finalize → send (Stripe emails the hosted invoice link). Each step's
result is recorded on the order as soon as Stripe answers, so a retry after an error goes
on from the step that failed and never makes a second customer, invoice or line; each
create carries an idempotency key made of the order reference, `invoice_attempts` and the
step. https://docs.stripe.com/invoicing/integration, https://docs.stripe.com/invoicing/bank-transfer

Afterwards: `invoice.paid` fulfils through fulfilment.order_fulfil_invoice (the same
exactly-once path as Checkout); `invoice.overdue` marks it overdue; staff mark it paid out
of band (with a reason) or void it."""

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Order, OrderEvent
from .fulfilment import order_fulfil_invoice
from .invoice_details import invoice_details_apply
from .stripe_client import StripeUnavailable, amount_to_minor, stripe_call
from .timeline import order_event_add

logger = logging.getLogger(__name__)

EU_VAT_PREFIXES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split()
)
# The country a VAT number's prefix stands for, where it is not the ISO code.
VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}
# https://docs.stripe.com/payments/bank-transfers: the account type a currency is paid into.
BANK_TRANSFER_TYPES = {"usd": "us_bank_transfer", "gbp": "gb_bank_transfer"}
EU_TRANSFER_COUNTRIES = frozenset({"BE", "DE", "ES", "FR", "IE", "NL"})


class InvoiceNotAllowed(Exception):
    pass


def invoice_offered(*, price: Decimal) -> bool:
    """Pay by invoice is offered at or above INVOICE_MIN_AMOUNT (in the order's own
    currency), or for every order with INVOICE_ALL_ORDERS."""
    return settings.INVOICE_ALL_ORDERS or price >= settings.INVOICE_MIN_AMOUNT


def vat_tax_id(vat_id: str) -> dict | None:
    """The VAT ID typed on our form as Stripe's tax_id_data entry, when Stripe knows its type."""
    prefix = vat_id[:2]
    if prefix == "GB":
        return {"type": "gb_vat", "value": vat_id}
    if prefix in EU_VAT_PREFIXES:
        return {"type": "eu_vat", "value": vat_id}
    return None


def vat_country(vat_id: str) -> str:
    prefix = vat_id[:2]
    if prefix != "GB" and prefix not in EU_VAT_PREFIXES:
        return ""
    return VAT_PREFIX_COUNTRY.get(prefix, prefix)


# --- Issuing ----------------------------------------------------------------------------------


def invoice_issue(*, order: Order) -> Order:
    """Create, finalize and send the order's invoice (see the module's docstring); returns
    the order as recorded. Raises StripeUnavailable after recording the error on the
    order's timeline; pressing again continues."""
    if order.payment_route != Order.PaymentRoute.INVOICE or order.status != Order.Status.PENDING:
        raise InvoiceNotAllowed(f"Order {order.reference} is not a pending invoice order.")
    steps = (
        (lambda o: not o.stripe_customer_id, _customer_create),
        (lambda o: not o.stripe_invoice_id, _invoice_create),
        (lambda o: not o.stripe_invoice_item_id, _invoice_item_create),
        (lambda o: o.invoice_status == "draft", _invoice_finalize),
        (lambda o: o.invoice_sent_at is None, _invoice_send),
    )
    try:
        for needed, step in steps:
            if needed(order):
                step(order)
    except StripeUnavailable as exc:
        _invoice_error_record(order=order, error=exc)
        raise
    return order


def _key(order: Order, step: str) -> dict:
    return {"idempotency_key": f"{order.reference}-invoice-{order.invoice_attempts}-{step}"}


def _customer_create(order: Order) -> None:
    country = order.billing_country or vat_country(order.buyer_vat_id)
    params = {
        "email": order.buyer_email,
        "name": order.buyer_company,
        "description": order.buyer_name,
        "metadata": {"order_reference": order.reference},
    }
    tax_id = vat_tax_id(order.buyer_vat_id) if order.buyer_vat_id else None
    if tax_id:
        params["tax_id_data"] = [tax_id]
    if country:
        params["address"] = {"country": country}
    customer = stripe_call(
        lambda client: client.v1.customers.create(params, _key(order, "customer"))
    )
    _record(order, stripe_customer_id=customer["id"], billing_country=country)


def _invoice_create(order: Order) -> None:
    metadata = {
        "order_reference": order.reference,
        "report_number": str(order.report.number),
        "licence": order.licence_kind,
    }
    params = {
        "customer": order.stripe_customer_id,
        "collection_method": "send_invoice",
        "days_until_due": settings.INVOICE_DUE_DAYS,
        "currency": order.currency.lower(),
        "description": f"Order {order.reference}",
        "custom_fields": [{"name": "Order", "value": order.reference}],
        "metadata": metadata,
        "pending_invoice_items_behavior": "exclude",
        "payment_settings": {
            "payment_method_types": ["customer_balance"],
            "payment_method_options": {"customer_balance": _bank_transfer_options(order)},
        },
    }
    if order.stripe_promotion_code_id:
        params["discounts"] = [{"promotion_code": order.stripe_promotion_code_id}]
    if settings.STRIPE_AUTOMATIC_TAX and order.billing_country:
        # Stripe Tax needs the buyer's location; our form has only the VAT ID's country.
        params["automatic_tax"] = {"enabled": True}
    invoice = stripe_call(lambda client: client.v1.invoices.create(params, _key(order, "create")))
    _record(order, stripe_invoice_id=invoice["id"], invoice_status=invoice.get("status") or "draft")


def _bank_transfer_options(order: Order) -> dict:
    currency = order.currency.lower()
    transfer = {"type": BANK_TRANSFER_TYPES.get(currency, "")}
    if currency == "eur":
        transfer = {"type": "eu_bank_transfer"}
        if order.billing_country in EU_TRANSFER_COUNTRIES:
            transfer["eu_bank_transfer"] = {"country": order.billing_country}
    options = {"funding_type": "bank_transfer"}
    if transfer["type"]:
        options["bank_transfer"] = transfer
    return options


def _invoice_item_create(order: Order) -> None:
    params = {
        "customer": order.stripe_customer_id,
        "invoice": order.stripe_invoice_id,
        "amount": amount_to_minor(order.price, order.currency),
        "currency": order.currency.lower(),
        "description": f"{order.report.title} — {order.licence_name} licence"[:500],
        "metadata": {"order_reference": order.reference},
    }
    item = stripe_call(lambda client: client.v1.invoice_items.create(params, _key(order, "item")))
    _record(order, stripe_invoice_item_id=item["id"])


def _invoice_finalize(order: Order) -> None:
    invoice_id = order.stripe_invoice_id
    invoice = stripe_call(
        lambda client: client.v1.invoices.finalize_invoice(invoice_id, {}, _key(order, "finalize"))
    )
    _record_invoice(order, invoice)


def _invoice_send(order: Order) -> None:
    invoice_id = order.stripe_invoice_id
    invoice = stripe_call(
        lambda client: client.v1.invoices.send_invoice(invoice_id, {}, _key(order, "send"))
    )
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        fields = invoice_details_apply(order=locked, invoice=invoice)
        locked.invoice_sent_at = timezone.now()
        locked.save(update_fields=[*fields, "invoice_sent_at", "updated_at"])
        due = f", due {locked.invoice_due_at:%Y-%m-%d}" if locked.invoice_due_at else ""
        order_event_add(
            order=locked,
            kind=OrderEvent.Kind.INVOICE_SENT,
            message=f"Invoice {locked.stripe_invoice_number} sent to {locked.buyer_email}{due}",
        )
    order.refresh_from_db()


@transaction.atomic
def _record(order: Order, **fields) -> None:
    Order.objects.filter(pk=order.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(order, name, value)


@transaction.atomic
def _record_invoice(order: Order, invoice: dict) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    locked.save(update_fields=[*invoice_details_apply(order=locked, invoice=invoice), "updated_at"])
    order.refresh_from_db()


@transaction.atomic
def _invoice_error_record(*, order: Order, error: StripeUnavailable) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if error.definitive:
        locked.invoice_attempts += 1
        locked.save(update_fields=["invoice_attempts", "updated_at"])
    order_event_add(order=locked, kind=OrderEvent.Kind.INVOICE_ERROR, message=str(error))
    order.invoice_attempts = locked.invoice_attempts


# --- What Stripe tells us ---------------------------------------------------------------------


@transaction.atomic
def invoice_details_record(*, order: Order, invoice: dict, stripe_event=None) -> str:
    """invoice.finalized, or invoice.paid for a card order's invoice (Checkout's
    invoice_creation): the number, hosted page and PDF for admin and the buyer."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    order.save(update_fields=[*invoice_details_apply(order=order, invoice=invoice), "updated_at"])
    return f"invoice {order.stripe_invoice_number or invoice.get('id')} {order.invoice_status}"


@transaction.atomic
def invoice_overdue_record(*, order: Order, invoice: dict, stripe_event=None) -> str:
    order = Order.objects.select_for_update().get(pk=order.pk)
    fields = invoice_details_apply(order=order, invoice=invoice)
    if order.status != Order.Status.PENDING or order.invoice_overdue_at:
        order.save(update_fields=[*fields, "updated_at"])
        return f"order {order.status}; overdue already noted or moot"
    order.invoice_overdue_at = timezone.now()
    order.save(update_fields=[*fields, "invoice_overdue_at", "updated_at"])
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.INVOICE_OVERDUE,
        message=f"Invoice {order.stripe_invoice_number} is overdue "
        f"(due {order.invoice_due_at:%Y-%m-%d})"
        if order.invoice_due_at
        else f"Invoice {order.stripe_invoice_number} is overdue",
        stripe_event=stripe_event,
    )
    return "invoice overdue"


@transaction.atomic
def invoice_voided_record(*, order: Order, invoice: dict, stripe_event=None, actor=None) -> str:
    """The invoice was voided (by staff here or in the Stripe dashboard): the order is
    cancelled; nothing was paid, so nothing is refunded."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    fields = invoice_details_apply(order=order, invoice=invoice)
    if order.status != Order.Status.PENDING:
        order.save(update_fields=[*fields, "updated_at"])
        return f"order {order.status}; void not applied"
    order.status = Order.Status.CANCELLED
    order.closed_at = timezone.now()
    order.save(update_fields=[*fields, "status", "closed_at", "updated_at"])
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.INVOICE_VOIDED,
        message=f"Invoice {order.stripe_invoice_number} voided; order cancelled",
        stripe_event=stripe_event,
        actor=actor,
    )
    return "invoice voided; order cancelled"


# --- Staff ------------------------------------------------------------------------------------


def _settleable(order: Order) -> Order:
    order.refresh_from_db()
    if order.payment_route != Order.PaymentRoute.INVOICE or not order.stripe_invoice_id:
        raise InvoiceNotAllowed(f"Order {order.reference} has no invoice to settle.")
    if order.status != Order.Status.PENDING or order.invoice_status != "open":
        raise InvoiceNotAllowed(
            f"Order {order.reference} is {order.status} and its invoice "
            f"{order.invoice_status or 'not sent'}; only an open invoice can be settled."
        )
    return order


def invoice_mark_paid_out_of_band(*, order: Order, reason: str, actor=None) -> str:
    """The buyer paid outside Stripe (a wire to the publisher's own bank): Stripe records
    the invoice paid out of band, then the same fulfilment as a bank transfer runs — once,
    however often this and the `invoice.paid` webhook race.
    https://docs.stripe.com/api/invoices/pay#pay_invoice-paid_out_of_band"""
    reason = " ".join(reason.split())
    if not reason:
        raise InvoiceNotAllowed("Give the reason (e.g. the bank's transfer reference).")
    order = _settleable(order)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.NOTE,
        message=f"Marked paid out of band: {reason}",
        actor=actor,
    )
    invoice_id = order.stripe_invoice_id
    invoice = stripe_call(
        lambda client: client.v1.invoices.pay(
            invoice_id,
            {"paid_out_of_band": True},
            {"idempotency_key": f"{order.reference}-invoice-paid-out-of-band"},
        )
    )
    return order_fulfil_invoice(order=order, invoice=invoice)


def invoice_void(*, order: Order, actor=None) -> str:
    """Void the open invoice in Stripe (it can no longer be paid) and cancel the order.
    https://docs.stripe.com/api/invoices/void"""
    order = _settleable(order)
    invoice_id = order.stripe_invoice_id
    invoice = stripe_call(
        lambda client: client.v1.invoices.void_invoice(
            invoice_id, {}, {"idempotency_key": f"{order.reference}-invoice-void"}
        )
    )
    return invoice_voided_record(order=order, invoice=invoice, actor=actor)

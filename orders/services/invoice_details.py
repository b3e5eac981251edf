"""Reading Stripe's billing objects onto the order: a Stripe invoice (number, hosted page,
PDF, status, due date, amounts) and what a completed Checkout Session collected from a
company (tax ID, billing country, the Customer, its invoice). Pure functions on dicts: the
webhook payload and a freshly retrieved object go through the same code.

https://docs.stripe.com/api/invoices/object,
https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-customer_details"""

from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import Order

# An invoice in one of these states never changes again (https://docs.stripe.com/invoicing/overview#invoice-statuses).
FINAL_STATUSES = ("paid", "void")
INVOICE_FIELDS = [
    "stripe_invoice_id",
    "stripe_invoice_number",
    "stripe_invoice_url",
    "stripe_invoice_pdf",
    "invoice_status",
    "invoice_due_at",
    "stripe_customer_id",
]
SESSION_BILLING_FIELDS = [
    "tax_id_type",
    "tax_id_value",
    "billing_country",
    "stripe_customer_id",
    "stripe_invoice_id",
]


def _id(value) -> str:
    """An expandable field: an id, or the expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def invoice_details_apply(*, order: Order, invoice: dict) -> list[str]:
    """Copy what Stripe says about the invoice onto the order (the caller saves the fields
    returned). A number or URL, once known, is never blanked by an older payload."""
    order.stripe_invoice_id = invoice.get("id") or order.stripe_invoice_id
    order.stripe_invoice_number = invoice.get("number") or order.stripe_invoice_number
    order.stripe_invoice_url = invoice.get("hosted_invoice_url") or order.stripe_invoice_url
    order.stripe_invoice_pdf = invoice.get("invoice_pdf") or order.stripe_invoice_pdf
    if order.invoice_status not in FINAL_STATUSES:  # a late, older payload can't reopen it
        order.invoice_status = (invoice.get("status") or order.invoice_status)[:20]
    order.stripe_customer_id = order.stripe_customer_id or _id(invoice.get("customer"))
    if invoice.get("due_date"):
        order.invoice_due_at = datetime.fromtimestamp(invoice["due_date"], tz=UTC)
    return INVOICE_FIELDS


def session_billing_apply(*, order: Order, session: dict) -> list[str]:
    """The tax ID and billing country the buyer gave Checkout, the Customer it created and
    the invoice it made (invoice_creation)."""
    details = session.get("customer_details") or {}
    tax_ids = details.get("tax_ids") or []
    if tax_ids:
        order.tax_id_type = (tax_ids[0].get("type") or "")[:20]
        order.tax_id_value = (tax_ids[0].get("value") or "")[:40]
    country = (details.get("address") or {}).get("country")
    order.billing_country = (country or order.billing_country)[:2]
    order.stripe_customer_id = _id(session.get("customer")) or order.stripe_customer_id
    order.stripe_invoice_id = _id(session.get("invoice")) or order.stripe_invoice_id
    return SESSION_BILLING_FIELDS


@dataclass(frozen=True)
class InvoiceAmounts:
    """Minor units, as Stripe counts them."""

    subtotal: int | None
    discount: int
    tax: int
    total: int | None


def invoice_amounts(invoice: dict) -> InvoiceAmounts:
    """Taxes are `total_taxes` since API 2025-03-31 (`tax` before); discounts
    `total_discount_amounts`."""
    taxes = invoice.get("total_taxes")
    tax = sum(t.get("amount") or 0 for t in taxes) if taxes else invoice.get("tax") or 0
    discount = sum(d.get("amount") or 0 for d in invoice.get("total_discount_amounts") or [])
    return InvoiceAmounts(
        subtotal=invoice.get("subtotal"), discount=discount, tax=tax, total=invoice.get("total")
    )


def invoice_payment_intent(invoice: dict) -> str:
    """The PaymentIntent that paid the invoice: in its `payments` (when included, API
    2025-03-31 and later), or its `payment_intent` (older versions). "" when it was paid
    out of band (no payment in Stripe)."""
    for payment in (invoice.get("payments") or {}).get("data") or []:
        inner = payment.get("payment") or {}
        if payment.get("status") in (None, "paid") and inner.get("payment_intent"):
            return _id(inner["payment_intent"])
    return _id(invoice.get("payment_intent"))

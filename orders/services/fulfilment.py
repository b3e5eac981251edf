"""Fulfilment: the ONE service that turns a paid Checkout Session — or a paid Stripe invoice
(pay by bank transfer, or marked paid out of band by staff) — into a paid order, called
from the webhook task, the success page, `stripe_reconcile` and the staff action, any number
of times, in any order, concurrently. It locks the order row, so exactly one caller marks it
paid (`_order_paid`), queues the receipt and schedules the stamped report; every other
caller finds the work done.

A session counts as paid when its payment_status is `paid`, or `no_payment_required` (a
100% discount: Stripe completes it without any payment).

https://docs.stripe.com/checkout/fulfillment, https://docs.stripe.com/invoicing/integration/workflow-transitions"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import jobs
from common.files import private_files_delete_later
from common.money import money_text
from contacts.services.outbox import email_queue
from reports.services.documents import DocumentNotReady, licensed_copy_create

from ..models import Deliverable, Order, OrderEvent, StripeEvent
from .downloads import download_link_send
from .invoice_details import (
    InvoiceAmounts,
    invoice_amounts,
    invoice_details_apply,
    invoice_payment_intent,
    session_billing_apply,
)
from .payment_methods import PaymentMethodSeen, payment_method_read
from .recovery import (
    checkout_consent_record,
    checkout_reminder_schedule,
    order_abandon_record,
    order_recovered_record,
    order_recovery_switch,
    session_is_for_order,
    session_recovers,
)
from .stripe_client import StripeUnavailable, amount_from_minor, amount_to_minor, stripe_call
from .timeline import order_event_add, order_flag

logger = logging.getLogger(__name__)

REOPENABLE = (Order.Status.PENDING, Order.Status.FAILED, Order.Status.ABANDONED)
DELIVERABLE_JOB = "order.deliverable"
# A Checkout Session's payment_status that fulfils the order.
SESSION_PAID = ("paid", "no_payment_required")
FREE = PaymentMethodSeen(type="", description="No payment due (100% discount)")
OUT_OF_BAND = PaymentMethodSeen(
    type="out_of_band", description="Paid outside Stripe (bank wire to the publisher)"
)


def order_fulfil(*, order: Order, session: dict, stripe_event: StripeEvent | None = None) -> str:
    """Record what the session says and, if it is paid for the amount we expect, mark the
    order paid (once). Returns what happened, for the event log.

    How it was paid is asked of Stripe first, outside the row lock (a Stripe call must not
    hold the order locked), and only when this call may be the one that marks it paid."""
    paying = _may_pay(order=order, session=session)
    method = _session_payment_method(session=session) if paying else PaymentMethodSeen()
    invoice = _checkout_invoice(session=session) if paying else None
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not session_is_for_order(order=order, session=session):
            return f"session {session.get('id')} is not for order {order.reference}; ignored"
        if order.status in (Order.Status.PAID, Order.Status.FULFILLED):
            return _already_paid(order=order, session=session)
        if session_recovers(order=order, session=session) and (
            order.stripe_session_id != session.get("id")
        ):
            order_recovery_switch(order=order, session=session, stripe_event=stripe_event)
        _session_details_record(order=order, session=session)
        if session.get("payment_status") not in SESSION_PAID:
            return _awaiting_payment(order=order, session=session, stripe_event=stripe_event)
        if order.access_revoked:
            payment = session.get("payment_intent")
            return _paid_after_revocation(order=order, payment=payment, stripe_event=stripe_event)
        problem = session_amount_problem(order=order, session=session)
        if problem:
            return _amount_mismatch(order=order, problem=problem, stripe_event=stripe_event)
        if invoice:
            invoice_details_apply(order=order, invoice=invoice)
        _mark_paid(order=order, session=session, method=method, stripe_event=stripe_event)
        return "paid: receipt queued, report scheduled"


def _may_pay(*, order: Order, session: dict) -> bool:
    """Whether this call may be the one that marks the order paid (worth asking Stripe how
    it was paid, outside the row lock)."""
    if session.get("payment_status") not in SESSION_PAID:
        return False
    if not session_is_for_order(order=order, session=session):
        return False
    paid = (Order.Status.PAID, Order.Status.FULFILLED)
    return not Order.objects.filter(pk=order.pk, status__in=paid).exists()


def _session_payment_method(*, session: dict) -> PaymentMethodSeen:
    if session.get("payment_status") == "no_payment_required":
        return FREE
    return payment_method_read(session=session)


def _checkout_invoice(*, session: dict) -> dict | None:
    """The invoice Checkout made for the session (invoice_creation), for the receipt's link.
    The receipt never waits for it: if Stripe can't say now, invoice.finalized and
    invoice.paid record it on the order later."""
    invoice = session.get("invoice")
    if isinstance(invoice, dict) or not invoice:
        return invoice or None
    try:
        return stripe_call(lambda client: client.v1.invoices.retrieve(invoice))
    except StripeUnavailable as exc:
        logger.warning("invoice %s of session %s unknown: %s", invoice, session.get("id"), exc)
        return None


def _session_details_record(*, order: Order, session: dict) -> None:
    order.stripe_session_id = order.stripe_session_id or session.get("id") or ""
    order.stripe_payment_intent_id = session.get("payment_intent") or order.stripe_payment_intent_id
    order.stripe_payment_status = session.get("payment_status") or ""
    billing = session_billing_apply(order=order, session=session)
    order.save(
        update_fields=[
            "stripe_session_id",
            "stripe_payment_intent_id",
            "stripe_payment_status",
            *billing,
            "updated_at",
        ]
    )


def _already_paid(*, order: Order, session: dict) -> str:
    """A second *different* paid session for a paid order is a double charge: flag it."""
    if session.get("id") != order.stripe_session_id and session.get("payment_status") == "paid":
        order_flag(
            order=order,
            note=f"Second payment for this order in session {session.get('id')} "
            f"(payment {session.get('payment_intent')}): refund it in Stripe.",
        )
        order.save(update_fields=["needs_attention", "attention_note", "updated_at"])
        order_event_add(order=order, kind=OrderEvent.Kind.NOTE, message=order.attention_note)
        return "second payment for a paid order; flagged for staff"
    return f"already {order.status}; nothing to do"


def _awaiting_payment(*, order: Order, session: dict, stripe_event) -> str:
    """Checkout completed with a delayed method (bank debit, transfer): wait for the
    async_payment_succeeded or _failed event. An open session means the buyer hasn't paid."""
    if session.get("status") != "complete":
        return f"session {session.get('status')}; not paid yet"
    already = order.events.filter(kind=OrderEvent.Kind.PAYMENT_PROCESSING).exists()
    if not already:
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.PAYMENT_PROCESSING,
            message=f"Checkout complete, payment {session.get('payment_status')}: "
            "waiting for the bank to confirm.",
            stripe_event=stripe_event,
        )
    return "checkout complete, payment not yet confirmed"


def _paid_after_revocation(*, order: Order, payment, stripe_event) -> str:
    message = (
        f"Payment confirmed after the order was {order.status}; not fulfilled. "
        f"Check the payment {payment} in Stripe."
    )
    order_flag(order=order, note=message)
    order.save(update_fields=["needs_attention", "attention_note", "updated_at"])
    order_event_add(
        order=order, kind=OrderEvent.Kind.NOTE, message=message, stripe_event=stripe_event
    )
    return f"order {order.status}; not fulfilled"


def session_amount_problem(*, order: Order, session: dict) -> str:
    """Our price is the line's subtotal; Stripe may apply a promotion code on top, and the
    total must add up. Anything else (another amount, another currency) is not fulfilled."""
    currency = (session.get("currency") or "").lower()
    if currency != order.currency.lower():
        return f"currency {currency.upper() or '?'} instead of {order.currency}"
    expected = amount_to_minor(order.price, order.currency)
    subtotal, total = session.get("amount_subtotal"), session.get("amount_total")
    if subtotal != expected:
        return f"subtotal {subtotal} instead of {expected} (minor units)"
    details = session.get("total_details") or {}
    discount = details.get("amount_discount") or 0
    extras = (details.get("amount_tax") or 0) + (details.get("amount_shipping") or 0)
    if discount and order.price_source == Order.PriceSource.QUOTE:
        return "a discount on a quoted price"
    if total != subtotal - discount + extras:
        return f"total {total} does not add up (subtotal {subtotal}, discount {discount})"
    return ""


def _amount_mismatch(*, order: Order, problem: str, stripe_event) -> str:
    first_time = not order.amount_mismatch
    order.amount_mismatch = True
    order_flag(order=order, note=f"Amount mismatch: {problem}. Not fulfilled; check in Stripe.")
    order.save(update_fields=["amount_mismatch", "needs_attention", "attention_note", "updated_at"])
    if first_time:
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.AMOUNT_MISMATCH,
            message=problem,
            stripe_event=stripe_event,
        )
    logger.error("order %s amount mismatch: %s", order.reference, problem)
    return f"amount mismatch ({problem}); flagged, not fulfilled"


def _mark_paid(*, order: Order, session: dict, method: PaymentMethodSeen, stripe_event) -> None:
    details = session.get("total_details") or {}
    amounts = InvoiceAmounts(
        subtotal=session.get("amount_subtotal"),
        discount=details.get("amount_discount") or 0,
        tax=details.get("amount_tax") or 0,
        total=session.get("amount_total"),
    )
    source = f"session {order.stripe_session_id}, payment {order.stripe_payment_intent_id or '—'}"
    if session_recovers(order=order, session=session):
        order_recovered_record(order=order, stripe_event=stripe_event)
    checkout_consent_record(order=order, session=session)
    _order_paid(
        order=order, amounts=amounts, method=method, source=source, stripe_event=stripe_event
    )


def _order_paid(
    *, order: Order, amounts: InvoiceAmounts, method: PaymentMethodSeen, source: str, stripe_event
) -> None:
    """THE transition to paid, for every route; the caller holds the order's row lock and
    has checked it is not paid yet. The receipt's dedupe key and the job's one row per
    order back the lock up."""
    order.payment_method_type = method.type
    order.payment_method_description = method.description
    order.status = Order.Status.PAID
    order.paid_at = timezone.now()
    order.closed_at = None
    order.amount_subtotal = amount_from_minor(amounts.subtotal, order.currency)
    order.amount_discount = amount_from_minor(amounts.discount, order.currency)
    order.amount_tax = amount_from_minor(amounts.tax, order.currency)
    order.amount_paid = amount_from_minor(amounts.total, order.currency)
    order.full_clean()
    order.save()
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.PAID,
        message=f"{money_text(order.amount_paid, order.currency)} paid ({source}, "
        f"{method.description or 'payment method unknown'})",
        stripe_event=stripe_event,
    )
    order_receipt_queue(order=order)
    jobs.enqueue(DELIVERABLE_JOB, target_id=order.pk)


# --- Invoices: pay by bank transfer, or paid out of band ------------------------------------


def order_fulfil_invoice(*, order: Order, invoice: dict, stripe_event=None) -> str:
    """The same fulfilment for the order's Stripe invoice (payment_route "invoice"): called
    by the `invoice.paid` webhook and by staff marking it paid out of band, any number of
    times, concurrently. How it was paid (the invoice's payments) is asked of Stripe first,
    outside the row lock, and only when this call may mark the order paid; a Stripe that
    can't answer raises StripeUnavailable and the webhook job tries again."""
    invoice, method = _invoice_payment_if_paying(order=order, invoice=invoice)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not _invoice_is_orders(order=order, invoice=invoice):
            return f"invoice {invoice.get('id')} is not for order {order.reference}; ignored"
        if order.status in (Order.Status.PAID, Order.Status.FULFILLED):
            return f"already {order.status}; nothing to do"
        order.save(
            update_fields=[*invoice_details_apply(order=order, invoice=invoice), "updated_at"]
        )
        if invoice.get("status") != "paid":
            return f"invoice {invoice.get('status')}; not paid yet"
        payment = invoice_payment_intent(invoice)
        if order.access_revoked or order.status == Order.Status.CANCELLED:
            return _paid_after_revocation(
                order=order, payment=payment or invoice.get("id"), stripe_event=stripe_event
            )
        problem = invoice_amount_problem(order=order, invoice=invoice)
        if problem:
            return _amount_mismatch(order=order, problem=problem, stripe_event=stripe_event)
        order.stripe_payment_intent_id = payment
        method = method if payment else OUT_OF_BAND
        source = f"invoice {order.stripe_invoice_number or invoice.get('id')}, payment {payment or 'out of band'}"
        _order_paid(
            order=order,
            amounts=invoice_amounts(invoice),
            method=method,
            source=source,
            stripe_event=stripe_event,
        )
        return "invoice paid: receipt queued, report scheduled"


def _invoice_is_orders(*, order: Order, invoice: dict) -> bool:
    reference = (invoice.get("metadata") or {}).get("order_reference")
    return invoice.get("id") == order.stripe_invoice_id or reference == order.reference


def _invoice_payment_if_paying(*, order: Order, invoice: dict) -> tuple[dict, PaymentMethodSeen]:
    """The invoice with its payments included, and the PaymentMethod that paid it (unknown
    when paid out of band). Stripe is asked only when this call may mark the order paid."""
    if invoice.get("status") != "paid" or not _invoice_is_orders(order=order, invoice=invoice):
        return invoice, PaymentMethodSeen()
    if Order.objects.filter(pk=order.pk).exclude(status=Order.Status.PENDING).exists():
        return invoice, PaymentMethodSeen()
    if "payments" not in invoice:
        invoice = stripe_call(
            lambda client: client.v1.invoices.retrieve(invoice["id"], {"expand": ["payments"]})
        )
    payment = invoice_payment_intent(invoice)
    if not payment:
        return invoice, PaymentMethodSeen()
    offered = (invoice.get("payment_settings") or {}).get("payment_method_types") or []
    session_like = {"id": invoice["id"], "payment_intent": payment, "payment_method_types": offered}
    return invoice, payment_method_read(session=session_like)


def invoice_amount_problem(*, order: Order, invoice: dict) -> str:
    """As for a session: our price is the subtotal; the total adds tax and takes discounts."""
    currency = (invoice.get("currency") or "").lower()
    if currency != order.currency.lower():
        return f"currency {currency.upper() or '?'} instead of {order.currency}"
    expected = amount_to_minor(order.price, order.currency)
    amounts = invoice_amounts(invoice)
    if amounts.subtotal != expected:
        return f"subtotal {amounts.subtotal} instead of {expected} (minor units)"
    if amounts.total != amounts.subtotal - amounts.discount + amounts.tax:
        return f"total {amounts.total} does not add up (subtotal {amounts.subtotal})"
    return ""


def order_receipt_queue(*, order: Order):
    return email_queue(
        to=order.buyer_email,
        template="orders/email/order_receipt",
        context={"order": order, "report": order.report},
        related=order,
        contact=order.contact,
        dedupe_key=f"receipt:{order.reference}",
    )


def order_deliverable_prepare(*, work: jobs.JobRun) -> None:
    """The "order.deliverable" job: stamp the full report for this buyer, store it
    privately, then — in one transaction with the job's completion — record the
    deliverable, mark the order fulfilled and email the download link, unless a refund
    arrived meanwhile. Stamping runs outside any transaction: when the base PDF is not
    rendered yet, the PDF service queues its render in a transaction of its own, and this
    job tries again with backoff."""

    order = Order.objects.select_related("report").get(pk=work.target_id)
    if order.status != Order.Status.PAID:
        return
    try:
        path = licensed_copy_create(
            report=order.report,
            company=order.buyer_company,
            licence_name=order.licence_name,
            order_reference=order.reference,
            path_hint=f"orders/{order.report.number}/{order.reference}",
        )
    except DocumentNotReady as exc:
        raise jobs.Retry(
            f"The report's base PDF is not rendered yet ({exc}).", after=exc.render_job
        ) from exc
    with work.completing():
        _deliverable_record(order_id=order.pk, path=path)


def _deliverable_record(*, order_id: int, path: str) -> None:
    order = Order.objects.select_for_update(of=("self", "report")).select_related(
        "report", "contact"
    )
    order = order.get(pk=order_id)
    erased = order.contact is not None and order.contact.erased_at is not None
    if order.status != Order.Status.PAID or erased:
        # Refunded, or the buyer's data erased, while stamping: the copy is deleted, not kept.
        logger.info("order %s was %s while stamping; not delivered", order.reference, order.status)
        private_files_delete_later([path])
        return
    Deliverable.objects.create(order=order, path=path)
    order.status = Order.Status.FULFILLED
    order.fulfilled_at = timezone.now()
    order.deliverable_error = ""
    order.save()
    download_link_send(order=order, first=True)
    order_event_add(order=order, kind=OrderEvent.Kind.DELIVERABLE_READY, message=path)


def order_deliverable_give_up(order_id: int, error: str) -> None:
    """The job's last attempt failed: the order needs staff (flagged, with the reason on its
    timeline)."""
    order = Order.objects.select_for_update().get(pk=order_id)
    order.deliverable_error = error
    order_flag(order=order, note=f"The report could not be prepared: {error}"[:500])
    order.save()
    order_event_add(order=order, kind=OrderEvent.Kind.DELIVERABLE_ERROR, message=error)


@transaction.atomic
def order_deliverable_retry(*, order: Order, actor=None) -> None:
    """Staff: try again after a final failure (fresh attempt budget)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    order.deliverable_error = ""
    order.save(update_fields=["deliverable_error", "updated_at"])
    order_event_add(
        order=order, kind=OrderEvent.Kind.NOTE, message="Report preparation restarted", actor=actor
    )
    jobs.enqueue(DELIVERABLE_JOB, target_id=order.pk, restart=True)


@transaction.atomic
def order_payment_failed(*, order: Order, session: dict, stripe_event=None) -> str:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.PENDING:
        return f"order {order.status}; failure not applied"
    order.status = Order.Status.FAILED
    order.closed_at = timezone.now()
    order.stripe_payment_status = session.get("payment_status") or order.stripe_payment_status
    order.save(update_fields=["status", "closed_at", "stripe_payment_status", "updated_at"])
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.PAYMENT_FAILED,
        message="The delayed payment failed.",
        stripe_event=stripe_event,
    )
    email_queue(
        to=order.buyer_email,
        template="orders/email/order_payment_failed",
        context={"order": order, "report": order.report},
        related=order,
        contact=order.contact,
        dedupe_key=f"payment-failed:{order.reference}",
    )
    return "payment failed; buyer told"


@transaction.atomic
def order_checkout_expired(*, order: Order, session: dict, stripe_event=None) -> str:
    """`checkout.session.expired`: the order is abandoned, with what the session says about
    recovery, and — if the buyer agreed — its one reminder scheduled (recovery.py). Only the
    pending → abandoned change does this, so a redelivered event schedules nothing more."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.PENDING:
        return f"order {order.status}; expiry not applied"
    if order.stripe_session_id not in ("", session.get("id")):
        return "an older session expired; the order has a newer one"
    order.status = Order.Status.ABANDONED
    order.closed_at = timezone.now()
    order_abandon_record(order=order, session=session)
    order.save()
    checkout_consent_record(order=order, session=session)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.EXPIRED,
        message=f"Session {session.get('id')} expired unpaid.",
        stripe_event=stripe_event,
    )
    reminded = checkout_reminder_schedule(order=order, stripe_event=stripe_event)
    return "abandoned; reminder scheduled" if reminded else "abandoned"


def orders_expire_abandoned() -> int:
    """Pending orders that never got a Checkout Session or a sent invoice (the buyer gave
    up after a Stripe error) are marked abandoned after ORDER_ABANDONED_AFTER_HOURS, as orders
    whose session expired are (without a session there is no recovery link, so no reminder).
    Orders with a session wait for Stripe's `expired` event, orders with a sent invoice for
    it to be paid or voided."""
    cutoff = timezone.now() - timedelta(hours=settings.ORDER_ABANDONED_AFTER_HOURS)
    now = timezone.now()
    return Order.objects.filter(
        status=Order.Status.PENDING,
        stripe_session_id="",
        invoice_sent_at__isnull=True,
        created_at__lt=cutoff,
    ).update(status=Order.Status.ABANDONED, closed_at=now, updated_at=now)

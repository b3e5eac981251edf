"""Fulfilment: the ONE service that turns a paid Checkout Session into a paid order, called
from the webhook task, the success page and `stripe_reconcile`, any number of times, in any
order, concurrently. It locks the order row, so exactly one caller marks it paid, queues the
receipt and schedules the stamped report; every other caller finds the work done.

https://docs.stripe.com/checkout/fulfillment"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import jobs
from common.files import private_files_delete_later
from contacts.services.outbox import email_queue
from reports.services.documents import DocumentNotReady, licensed_copy_create

from ..models import Deliverable, Order, OrderEvent, StripeEvent
from .downloads import download_link_send
from .payment_methods import PaymentMethodSeen, payment_method_read
from .recovery import (
    checkout_reminder_schedule,
    order_abandon_record,
    order_recovered_record,
    order_recovery_switch,
    session_is_for_order,
    session_recovers,
)
from .stripe_client import amount_from_minor, amount_to_minor
from .timeline import order_event_add, order_flag

logger = logging.getLogger(__name__)

REOPENABLE = (Order.Status.PENDING, Order.Status.FAILED, Order.Status.ABANDONED)
DELIVERABLE_JOB = "order.deliverable"


def order_fulfil(*, order: Order, session: dict, stripe_event: StripeEvent | None = None) -> str:
    """Record what the session says and, if it is paid for the amount we expect, mark the
    order paid (once). Returns what happened, for the event log.

    How it was paid is asked of Stripe first, outside the row lock (a Stripe call must not
    hold the order locked), and only when this call may be the one that marks it paid."""
    method = _payment_method_if_paying(order=order, session=session)
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
        if session.get("payment_status") != "paid":
            return _awaiting_payment(order=order, session=session, stripe_event=stripe_event)
        if order.access_revoked:
            return _paid_after_revocation(order=order, session=session, stripe_event=stripe_event)
        problem = session_amount_problem(order=order, session=session)
        if problem:
            return _amount_mismatch(order=order, problem=problem, stripe_event=stripe_event)
        _mark_paid(order=order, session=session, method=method, stripe_event=stripe_event)
        return "paid: receipt queued, report scheduled"


def _payment_method_if_paying(*, order: Order, session: dict) -> PaymentMethodSeen:
    if session.get("payment_status") != "paid":
        return PaymentMethodSeen()
    if not session_is_for_order(order=order, session=session):
        return PaymentMethodSeen()
    paid = (Order.Status.PAID, Order.Status.FULFILLED)
    if Order.objects.filter(pk=order.pk, status__in=paid).exists():
        return PaymentMethodSeen()
    return payment_method_read(session=session)


def _session_details_record(*, order: Order, session: dict) -> None:
    order.stripe_session_id = order.stripe_session_id or session.get("id") or ""
    order.stripe_payment_intent_id = session.get("payment_intent") or order.stripe_payment_intent_id
    order.stripe_payment_status = session.get("payment_status") or ""
    order.save(
        update_fields=[
            "stripe_session_id",
            "stripe_payment_intent_id",
            "stripe_payment_status",
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


def _paid_after_revocation(*, order: Order, session: dict, stripe_event) -> str:
    message = (
        f"Payment confirmed after the order was {order.status}; not fulfilled. "
        f"Check the payment {session.get('payment_intent')} in Stripe."
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
    order.payment_method_type = method.type
    order.payment_method_description = method.description
    order.status = Order.Status.PAID
    order.paid_at = timezone.now()
    order.closed_at = None
    order.amount_subtotal = amount_from_minor(session.get("amount_subtotal"), order.currency)
    order.amount_discount = amount_from_minor(details.get("amount_discount") or 0, order.currency)
    order.amount_paid = amount_from_minor(session.get("amount_total"), order.currency)
    if session_recovers(order=order, session=session):
        order_recovered_record(order=order, stripe_event=stripe_event)
    order.full_clean()
    order.save()
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.PAID,
        message=f"{order.currency} {order.amount_paid} paid (session {order.stripe_session_id}, "
        f"payment {order.stripe_payment_intent_id or '—'}, "
        f"{method.description or 'payment method unknown'})",
        stripe_event=stripe_event,
    )
    order_receipt_queue(order=order)
    jobs.enqueue(DELIVERABLE_JOB, target_id=order.pk)


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
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.EXPIRED,
        message=f"Session {session.get('id')} expired unpaid.",
        stripe_event=stripe_event,
    )
    reminded = checkout_reminder_schedule(order=order, stripe_event=stripe_event)
    return "abandoned; reminder scheduled" if reminded else "abandoned"


def orders_expire_abandoned() -> int:
    """Pending orders that never got a Checkout Session (the buyer gave up after a Stripe
    error) are marked abandoned after ORDER_ABANDONED_AFTER_HOURS, as orders whose session
    expired are (without a session there is no recovery link, so no reminder). Orders with
    a session wait for Stripe's `expired` event."""
    cutoff = timezone.now() - timedelta(hours=settings.ORDER_ABANDONED_AFTER_HOURS)
    now = timezone.now()
    return Order.objects.filter(
        status=Order.Status.PENDING, stripe_session_id="", created_at__lt=cutoff
    ).update(status=Order.Status.ABANDONED, closed_at=now, updated_at=now)

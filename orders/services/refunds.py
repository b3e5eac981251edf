"""Refunds and disputes. Either one withdraws access: every download link of the order is
revoked and the link page says why. Staff refund from admin through `order_refund`; Stripe's
`charge.refunded` and `charge.dispute.*` events arrive through `order_refund_record`
and `order_dispute_record` — in any order relative to the payment itself. A dispute won
gives access back (`charge.dispute.closed`, status `won`).

An order with a Stripe invoice (every card order since Checkout's invoice_creation, every
pay-by-invoice order) is refunded with a credit note against that invoice: the credit
note's `refund_amount` makes Stripe refund the invoice's payment, or, for an invoice paid
out of band, its `out_of_band_amount` records money the publisher pays back itself. The
buyer's accounts then hold invoice and credit note, both numbered by Stripe.
https://docs.stripe.com/invoicing/dashboard/credit-notes"""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from common import jobs
from common.money import money_text

from ..models import Deliverable, Dispute, DownloadLink, Order, OrderEvent
from .downloads import download_link_send, download_links_revoke
from .fulfilment import DELIVERABLE_JOB
from .seats import seats_links_send
from .stripe_client import (
    StripeUnavailable,
    amount_from_minor,
    amount_to_minor,
    stripe_call,
)
from .timeline import order_event_add, order_flag


class RefundNotAllowed(Exception):
    pass


def order_refund(*, order: Order, actor=None) -> Order:
    """Refund the whole payment in Stripe, then record it. The idempotency key is derived
    from the order, so a double click or a retry after a timeout refunds once.
    https://docs.stripe.com/api/refunds/create"""
    order.refresh_from_db()
    if order.status in (Order.Status.REFUNDED, Order.Status.DISPUTED):
        raise RefundNotAllowed(f"Order {order.reference} is {order.status}.")
    out_of_band = order.payment_method_type == "out_of_band"
    if order.stripe_invoice_id and (order.stripe_payment_intent_id or out_of_band):
        return _refund_with_credit_note(order=order, out_of_band=out_of_band, actor=actor)
    if not order.stripe_payment_intent_id:
        raise RefundNotAllowed(f"Order {order.reference} has no Stripe payment to refund.")
    params = {
        "payment_intent": order.stripe_payment_intent_id,
        "reason": "requested_by_customer",
        "metadata": {"order_reference": order.reference},
    }
    key = f"{order.reference}-refund-{order.refund_attempts}"
    try:
        refund = stripe_call(
            lambda client: client.v1.refunds.create(params, {"idempotency_key": key})
        )
    except StripeUnavailable as exc:
        _refund_error_record(order=order, error=exc, actor=actor)
        raise
    # Stripe refunds what is left; the record keeps the running total (minor units), so an
    # earlier partial refund is counted too.
    earlier = amount_to_minor(order.amount_refunded, order.currency) if order.amount_refunded else 0
    order_refund_record(
        order=order,
        amount_refunded=earlier + (refund.get("amount") or 0),
        fully=True,
        refund_id=refund.get("id", ""),
        actor=actor,
    )
    order.refresh_from_db()
    return order


def _refund_with_credit_note(*, order: Order, out_of_band: bool, actor) -> Order:
    """One call: the credit note for what is left of the invoice, refunding it in Stripe
    (or, paid out of band, recording it as credited outside Stripe). The key is derived from
    the order, as for a bare refund. https://docs.stripe.com/api/credit_notes/create"""
    paid = order.amount_paid if order.amount_paid is not None else order.price
    amount = amount_to_minor(paid - order.amount_refunded, order.currency)
    if amount <= 0:
        raise RefundNotAllowed(f"Nothing is left to refund on order {order.reference}.")
    params = {
        "invoice": order.stripe_invoice_id,
        "amount": amount,
        "out_of_band_amount" if out_of_band else "refund_amount": amount,
        "reason": "order_change",
        "memo": f"Refund of order {order.reference}",
        "metadata": {"order_reference": order.reference},
    }
    key = f"{order.reference}-credit-note-{order.refund_attempts}"
    try:
        note = stripe_call(
            lambda client: client.v1.credit_notes.create(params, {"idempotency_key": key})
        )
    except StripeUnavailable as exc:
        _refund_error_record(order=order, error=exc, actor=actor)
        raise
    # `refunds[]` since API 2024-10-28, `refund` before; either may be expanded.
    refund = ((note.get("refunds") or [{}])[0] or {}).get("refund") or note.get("refund") or ""
    refund_id = refund.get("id", "") if isinstance(refund, dict) else refund
    _credit_note_record(order=order, note=note, refund_id=refund_id, actor=actor)
    earlier = amount_to_minor(order.amount_refunded, order.currency) if order.amount_refunded else 0
    order_refund_record(
        order=order,
        amount_refunded=earlier + amount,
        fully=True,
        refund_id=refund_id,
        actor=actor,
    )
    order.refresh_from_db()
    return order


@transaction.atomic
def _credit_note_record(*, order: Order, note: dict, refund_id, actor) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    locked.stripe_credit_note_id = note.get("id") or ""
    locked.stripe_credit_note_number = (note.get("number") or "")[:64]
    locked.save(update_fields=["stripe_credit_note_id", "stripe_credit_note_number", "updated_at"])
    amount = amount_from_minor(note.get("total") or note.get("amount"), locked.currency)
    how = "credited outside Stripe" if note.get("out_of_band_amount") else f"refund {refund_id}"
    order_event_add(
        order=locked,
        kind=OrderEvent.Kind.CREDIT_NOTE,
        message=f"Credit note {locked.stripe_credit_note_number} for {locked.currency} {amount} "
        f"against invoice {locked.stripe_invoice_number or locked.stripe_invoice_id} ({how})",
        actor=actor,
    )


@transaction.atomic
def _refund_error_record(*, order: Order, error: StripeUnavailable, actor) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if error.definitive:
        locked.refund_attempts += 1
        locked.save(update_fields=["refund_attempts", "updated_at"])
    order_event_add(
        order=locked, kind=OrderEvent.Kind.NOTE, message=f"Refund failed: {error}", actor=actor
    )


@transaction.atomic
def order_refund_record(
    *,
    order: Order,
    amount_refunded: int | None,
    fully: bool,
    refund_id: str = "",
    stripe_event=None,
    actor=None,
) -> str:
    """Record a refund Stripe made (amount in minor units, cumulative). A full refund ends
    access; a partial one (a goodwill discount) keeps it and is flagged for staff."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    amount = amount_from_minor(amount_refunded, order.currency)
    if amount is not None and amount > order.amount_refunded:
        order.amount_refunded = amount
    order.stripe_refund_id = refund_id or order.stripe_refund_id
    if not fully:
        order_flag(order=order, note=f"Partially refunded ({order.amount_refunded}); access kept.")
        order.save()
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.PARTIALLY_REFUNDED,
            message=f"{money_text(order.amount_refunded, order.currency)} refunded so far",
            stripe_event=stripe_event,
            actor=actor,
        )
        return "partial refund recorded; access kept"
    if order.status == Order.Status.REFUNDED:
        order.save()
        return "already refunded"
    return _access_withdraw(
        order=order,
        status=Order.Status.REFUNDED,
        reason=DownloadLink.RevokeReason.REFUNDED,
        message=f"{money_text(order.amount_refunded, order.currency)} refunded; download links revoked",
        stripe_event=stripe_event,
        actor=actor,
    )


# Dispute statuses that leave the buyer's access on: won, and an inquiry closed without a
# dispute. Every other (open, under review, lost) withdraws it.
# https://docs.stripe.com/api/disputes/object#dispute_object-status
DISPUTE_SETTLED_FOR_US = ("won", "warning_closed")


@transaction.atomic
def order_dispute_record(
    *, order: Order, dispute: dict, stripe_event=None, seen_at: datetime | None = None
) -> str:
    """Record what Stripe says about one dispute (created, updated, closed: any event, or
    reconciliation's list), then set the order's access from all its disputes: withdrawn
    while any is open or lost, restored once every one is won. A report older than the one
    recorded is ignored (`seen_at`: the event's time; reconciliation reads the present)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    seen_at = seen_at or (stripe_event.stripe_created if stripe_event else None) or timezone.now()
    recorded = _dispute_store(order=order, dispute=dispute, seen_at=seen_at)
    if order.status == Order.Status.REFUNDED:
        return "already refunded"
    blocking = order.disputes.exclude(status__in=DISPUTE_SETTLED_FOR_US)
    if blocking.exists():
        if order.status == Order.Status.DISPUTED:
            return f"already disputed (dispute {recorded.status})"
        return _dispute_withdraw(order=order, dispute=dispute, stripe_event=stripe_event)
    if order.status == Order.Status.DISPUTED:
        return _dispute_restore(order=order, dispute=recorded, stripe_event=stripe_event)
    return f"dispute {recorded.status}; access unchanged"


def _dispute_store(*, order: Order, dispute: dict, seen_at: datetime) -> Dispute:
    status = str(dispute.get("status") or "needs_response")[:30]
    row, created = Dispute.objects.select_for_update().get_or_create(
        stripe_id=str(dispute.get("id") or "")[:255],
        defaults={
            "order": order,
            "status": status,
            "reason": str(dispute.get("reason") or "")[:60],
            "seen_at": seen_at,
        },
    )
    if not created and seen_at >= row.seen_at:
        row.status, row.seen_at = status, seen_at
        row.save(update_fields=["status", "seen_at"])
    return row


def _dispute_withdraw(*, order: Order, dispute: dict, stripe_event) -> str:
    note = f"Dispute {dispute.get('id')} ({dispute.get('reason') or 'no reason given'})"
    due = (dispute.get("evidence_details") or {}).get("due_by")
    if due and dispute.get("status") not in ("lost",):
        note += f", evidence due {datetime.fromtimestamp(due, tz=UTC):%Y-%m-%d}"
    order_flag(order=order, note=f"{note}: respond in Stripe.")
    return _access_withdraw(
        order=order,
        status=Order.Status.DISPUTED,
        reason=DownloadLink.RevokeReason.DISPUTED,
        message=f"{note}; download links revoked",
        stripe_event=stripe_event,
    )


def _dispute_restore(*, order: Order, dispute: Dispute, stripe_event) -> str:
    """Every dispute is won: the buyer and every seat get fresh links (the revoked ones stay
    closed: their addresses may have travelled), or the copy is prepared if it never was."""
    delivered = Deliverable.objects.filter(order=order).exists()
    order.status = Order.Status.FULFILLED if delivered else Order.Status.PAID
    order.save(update_fields=["status", "updated_at"])
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.DISPUTE_WON,
        message=f"Dispute {dispute.stripe_id} {dispute.status}; access restored",
        stripe_event=stripe_event,
    )
    if not delivered:
        jobs.enqueue(DELIVERABLE_JOB, target_id=order.pk)
        return "dispute won; access restored, report scheduled"
    download_link_send(order=order)
    sent = seats_links_send(order=order)
    return f"dispute won; access restored, fresh links sent (buyer and {sent} seat(s))"


def _access_withdraw(*, order: Order, status, reason, message, stripe_event, actor=None) -> str:
    now = timezone.now()
    order.status = status
    if status == Order.Status.REFUNDED:
        order.refunded_at = now
    else:
        order.disputed_at = now
    order.save()
    revoked = download_links_revoke(order=order, reason=reason)
    kind = OrderEvent.Kind.REFUNDED if status == Order.Status.REFUNDED else OrderEvent.Kind.DISPUTED
    order_event_add(order=order, kind=kind, message=message, stripe_event=stripe_event, actor=actor)
    return f"{status}; {revoked} link(s) revoked"

"""Stripe webhooks: verify, store once, process in a task.

The view only verifies the signature on the raw body and stores the event under its unique
id (a database constraint rejects the duplicate, whatever the concurrency) with its
"stripe.event" job, then answers 200. The job processes the stored row (common/jobs.py: a
lost message is published again by the sweeper, a failure retries with backoff and ends
`failed`, visible in admin with a "process again" action).
https://docs.stripe.com/webhooks#handle-events-asynchronously"""

import json
import logging
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import jobs

from ..models import Order, StripeEvent
from . import fulfilment, invoices, refunds
from .stripe_client import stripe_call

logger = logging.getLogger(__name__)
JOB = "stripe.event"


class WebhookRejected(Exception):
    pass


def webhook_secrets() -> list[str]:
    """STRIPE_WEBHOOK_SECRET holds one signing secret, or several separated by commas while
    one is replaced by another (the new one first): every listed secret is accepted."""
    return [part.strip() for part in settings.STRIPE_WEBHOOK_SECRET.split(",") if part.strip()]


def webhook_verify(*, payload: bytes, signature: str | None) -> dict:
    """The event, if the Stripe-Signature header signs this exact body with one of our
    secrets within the tolerance; WebhookRejected otherwise."""
    accepted = webhook_secrets()
    if not accepted:
        raise WebhookRejected("STRIPE_WEBHOOK_SECRET is not set")
    try:
        text = payload.decode("utf-8")
        _signature_verify(text=text, signature=signature, secrets=accepted)
        event = json.loads(text)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(str(exc)) from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookRejected("the body is not a Stripe event")
    if not event.get("id") or not event.get("type"):
        raise WebhookRejected("the event has no id or type")
    return event


def _signature_verify(*, text: str, signature: str | None, secrets: list[str]) -> None:
    """Stripe's own check against each secret in turn; the last refusal is raised when none
    verifies. During Stripe's "roll secret" window one header carries a `v1=` signature per
    live secret, so either configured secret matches. https://docs.stripe.com/webhooks#roll-endpoint-secrets"""
    for position, secret in enumerate(secrets):
        try:
            stripe.WebhookSignature.verify_header(
                text, signature, secret, settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
            )
            return
        except stripe.SignatureVerificationError:
            if position == len(secrets) - 1:
                raise


def stripe_event_record(*, event: dict) -> tuple[StripeEvent, bool]:
    """Store the event once; (row, created). Processing is dispatched after commit."""
    created = event.get("created")
    row = StripeEvent(
        stripe_id=str(event["id"])[:255],
        type=str(event["type"])[:100],
        livemode=bool(event.get("livemode")),
        api_version=str(event.get("api_version") or "")[:40],
        stripe_created=datetime.fromtimestamp(created, tz=UTC) if created else None,
        payload=event,
    )
    # The unique constraint decides, not a lookup: two concurrent deliveries can both pass
    # an exists() check, only one can insert.
    row.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            row.save()
            jobs.enqueue(JOB, target_id=row.pk)
    except IntegrityError:
        return StripeEvent.objects.get(stripe_id=row.stripe_id), False
    return row, True


def stripe_event_process(*, work: jobs.JobRun) -> None:
    """The "stripe.event" job: process the stored event in one transaction with the order
    changes it causes and the job's completion."""
    with work.completing():
        event = StripeEvent.objects.select_for_update().get(pk=work.target_id)
        if event.status in DONE:
            return
        handler = HANDLERS.get(event.type)
        result, order = handler(event) if handler else ("not handled; stored", None)
        event.status = StripeEvent.Status.PROCESSED if handler else StripeEvent.Status.IGNORED
        event.result, event.order = result[:500], order
        event.last_error = ""
        event.processed_at = timezone.now()
        event.save()


DONE = (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED, StripeEvent.Status.FAILED)


def stripe_event_give_up(event_id: int, error: str) -> None:
    event = StripeEvent.objects.select_for_update().get(pk=event_id)
    if event.status not in DONE:
        event.status = StripeEvent.Status.FAILED
        event.last_error = error
        event.save(update_fields=["status", "last_error"])


@transaction.atomic
def stripe_event_reprocess(*, event: StripeEvent) -> None:
    """Staff's "process again": a fresh attempt budget. An event being processed (or
    waiting for its retry) right now is left to that run."""
    job = jobs.job_for(JOB, event.pk)
    if job is not None and job.state in job.ACTIVE:
        return
    StripeEvent.objects.filter(pk=event.pk).update(status=StripeEvent.Status.PENDING, last_error="")
    jobs.enqueue(JOB, target_id=event.pk, restart=True)


# --- Handlers: (event) -> (result text, order or None) -------------------------------------


def order_for_session(session: dict) -> Order | None:
    """By our reference on the session or, for a session opened from a recovery link that
    lacks it, by the expired session it recovers (orders/services/recovery.py)."""
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get(
        "order_reference"
    )
    if reference:
        return Order.objects.filter(reference=reference).first()
    recovered_from = session.get("recovered_from")
    if recovered_from:
        return Order.objects.filter(abandoned_session_id=recovered_from).first()
    return None


def order_for_payment(obj: dict) -> Order | None:
    """The order a charge or dispute belongs to: by our metadata, by the payment intent we
    recorded, or — when a refund overtakes the payment's own event — by asking Stripe which
    Checkout Session holds that payment intent."""
    reference = (obj.get("metadata") or {}).get("order_reference")
    if reference:
        return Order.objects.filter(reference=reference).first()
    payment_intent = obj.get("payment_intent")
    if not payment_intent:
        return None
    order = Order.objects.filter(stripe_payment_intent_id=payment_intent).first()
    if order:
        return order
    found = stripe_call(
        lambda client: client.v1.checkout.sessions.list(
            {"payment_intent": payment_intent, "limit": 1}
        )
    )
    sessions = found.get("data") or []
    return order_for_session(sessions[0]) if sessions else None


def _on_session(service):
    """A Checkout Session event: find our order by the session's reference, then call the
    fulfilment service that owns this transition."""

    def handle(event: StripeEvent):
        session = event.data_object
        order = order_for_session(session)
        if order is None:
            return "no order with this reference; ignored", None
        return service(order=order, session=session, stripe_event=event), order

    return handle


_on_session_paid_or_completed = _on_session(fulfilment.order_fulfil)
_on_session_payment_failed = _on_session(fulfilment.order_payment_failed)
_on_session_expired = _on_session(fulfilment.order_checkout_expired)


def _on_charge_refunded(event: StripeEvent):
    charge = event.data_object
    order = order_for_payment(charge)
    if order is None:
        return "no order for this charge; ignored", None
    result = refunds.order_refund_record(
        order=order,
        amount_refunded=charge.get("amount_refunded"),
        fully=bool(charge.get("refunded")),
        stripe_event=event,
    )
    return result, order


def _on_dispute_created(event: StripeEvent):
    """Any dispute event (created, updated, closed, funds reinstated): the dispute's status
    is recorded and the order's access follows (a won dispute restores it)."""
    dispute = event.data_object
    order = order_for_payment(dispute)
    if order is None:
        return "no order for this dispute; ignored", None
    return refunds.order_dispute_record(order=order, dispute=dispute, stripe_event=event), order


def order_for_invoice(invoice: dict) -> Order | None:
    """The order an invoice belongs to: by our metadata (set on both the invoices we send
    and those Checkout makes), else by the invoice id we recorded."""
    reference = (invoice.get("metadata") or {}).get("order_reference")
    if reference:
        return Order.objects.filter(reference=reference).first()
    if invoice.get("id"):
        return Order.objects.filter(stripe_invoice_id=invoice["id"]).first()
    return None


def _on_invoice(*, invoice_route, checkout_route=invoices.invoice_details_record):
    """An invoice event: for an order paid by invoice, the service that owns the
    transition; for a card order (its invoice made by Checkout) the invoice's details are
    recorded — Checkout's own events fulfil it."""

    def handle(event: StripeEvent):
        invoice = event.data_object
        order = order_for_invoice(invoice)
        if order is None:
            return "no order for this invoice; ignored", None
        by_invoice = order.payment_route == Order.PaymentRoute.INVOICE
        service = invoice_route if by_invoice else checkout_route
        return service(order=order, invoice=invoice, stripe_event=event), order

    return handle


HANDLERS = {
    "invoice.paid": _on_invoice(invoice_route=fulfilment.order_fulfil_invoice),
    "invoice.finalized": _on_invoice(invoice_route=invoices.invoice_details_record),
    "invoice.overdue": _on_invoice(invoice_route=invoices.invoice_overdue_record),
    "invoice.voided": _on_invoice(invoice_route=invoices.invoice_voided_record),
    "checkout.session.completed": _on_session_paid_or_completed,
    "checkout.session.async_payment_succeeded": _on_session_paid_or_completed,
    "checkout.session.async_payment_failed": _on_session_payment_failed,
    "checkout.session.expired": _on_session_expired,
    "charge.refunded": _on_charge_refunded,
    "charge.dispute.created": _on_dispute_created,
    "charge.dispute.updated": _on_dispute_created,
    "charge.dispute.closed": _on_dispute_created,
    "charge.dispute.funds_reinstated": _on_dispute_created,
}

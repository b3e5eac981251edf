"""Abandoned checkouts, recovered with Stripe (issue 25).

Every Checkout Session asks Stripe for a recovery link (`after_expiration.recovery`) and lets
Checkout ask the buyer for promotional-email consent (`consent_collection.promotions=auto`).
When the session expires unpaid (`checkout.session.expired`), the order is marked abandoned
and — only if the buyer ticked Checkout's box (`consent.promotions == "opt_in"`) and Stripe
gave a recovery link — one reminder job is scheduled `CHECKOUT_REMINDER_HOURS` later. The
job sends one email with the link. A buyer who opens it gets a new session, a copy of the
expired one whose `recovered_from` names it; paying there fulfils the same order, once, and
marks it recovered.

Exactly once, whatever Stripe redelivers: the event is stored once (webhooks.py), only the
pending → abandoned transition schedules the job, a job kind has one row per order
(common/jobs.py), and the email has a dedupe key.
https://docs.stripe.com/payments/checkout/abandoned-carts"""

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from common import jobs
from contacts.models import OutboundEmail
from contacts.services.outbox import email_queue

from ..models import Order, OrderEvent
from .timeline import order_event_add

logger = logging.getLogger(__name__)
REMINDER_JOB = "order.checkout_reminder"
REMINDER_TEMPLATE = "orders/email/checkout_reminder"
OPT_IN = "opt_in"


def checkout_recovery_params(*, allow_promotion_codes: bool) -> dict:
    """What every Checkout Session adds for recovery. Promotion codes on the recovered
    session follow the original's (a quoted price stays final).
    https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-after_expiration"""
    return {
        "after_expiration": {
            "recovery": {"enabled": True, "allow_promotion_codes": allow_promotion_codes}
        },
        "consent_collection": {"promotions": "auto"},
    }


def session_recovers(*, order: Order, session: dict) -> bool:
    """The session is Stripe's copy of this order's expired one (opened from its recovery link)."""
    recovered_from = session.get("recovered_from")
    return bool(recovered_from) and recovered_from == order.abandoned_session_id


def session_is_for_order(*, order: Order, session: dict) -> bool:
    """Our reference is on the session, or (a recovered session without it) the session it
    recovers is this order's."""
    reference = session.get("client_reference_id")
    if reference:
        return reference == order.reference
    return session_recovers(order=order, session=session)


def order_abandon_record(*, order: Order, session: dict) -> None:
    """Under the order's lock, as its status becomes abandoned: what the expired session says
    about recovery and consent (the caller saves)."""
    recovery = (session.get("after_expiration") or {}).get("recovery") or {}
    order.abandoned_session_id = session.get("id") or ""
    order.recovery_url = recovery.get("url") or ""
    expires = recovery.get("expires_at")
    order.recovery_expires_at = datetime.fromtimestamp(expires, tz=UTC) if expires else None
    order.promotions_consent = ((session.get("consent") or {}).get("promotions") or "")[:10]


def checkout_reminder_schedule(*, order: Order, stripe_event=None) -> bool:
    """In the abandoning transaction: the reminder job, due CHECKOUT_REMINDER_HOURS from now,
    if the buyer agreed and there is a link to send. True when scheduled."""
    if order.promotions_consent != OPT_IN or not order.recovery_url:
        reason = "no consent to promotional email" if order.recovery_url else "no recovery link"
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.RECOVERY_REMINDER,
            message=f"No reminder: {reason}.",
            stripe_event=stripe_event,
        )
        return False
    delay = round(settings.CHECKOUT_REMINDER_HOURS * 3600)
    job = jobs.enqueue(REMINDER_JOB, target_id=order.pk, delay=delay)
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.RECOVERY_REMINDER,
        message=f"Reminder scheduled for {job.due_at:%Y-%m-%d %H:%M} UTC.",
        stripe_event=stripe_event,
    )
    return True


def checkout_reminder_send(*, work: jobs.JobRun) -> None:
    """The "order.checkout_reminder" job: email the recovery link, unless the order moved on
    (paid, refunded…), the link expired, the buyer bought the report since, or their data was
    erased. The email is queued in the transaction that completes the job."""
    with work.completing():
        order = Order.objects.select_for_update(of=("self",)).select_related("report", "contact")
        order = order.get(pk=work.target_id)
        skip = _reminder_skip_reason(order)
        if skip:
            order_event_add(
                order=order, kind=OrderEvent.Kind.RECOVERY_REMINDER, message=f"Not sent: {skip}."
            )
            return
        email = checkout_reminder_email_queue(order=order)
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.RECOVERY_REMINDER,
            message=f"Reminder with the recovery link queued (email {email.pk}).",
        )


def _reminder_skip_reason(order: Order) -> str:
    if order.status != Order.Status.ABANDONED:
        return f"the order is {order.get_status_display().lower()}"
    if order.contact is not None and order.contact.erased_at is not None:
        return "the buyer's data was erased"
    if order.recovery_expires_at and order.recovery_expires_at <= timezone.now():
        return "the recovery link has expired"
    bought = Order.objects.filter(
        report_id=order.report_id,
        buyer_email=order.buyer_email,
        status__in=(Order.Status.PAID, Order.Status.FULFILLED),
    )
    if bought.exists():
        return "the buyer has bought this report since"
    return ""


def checkout_reminder_email_queue(*, order: Order) -> OutboundEmail:
    """The one place the checkout reminder is sent from: a promotional email, only ever for
    a buyer who opted in on Checkout. (Marketing-email rules — unsubscribe headers, a
    suppression list — belong here when the site gains them.)"""
    return email_queue(
        to=order.buyer_email,
        template=REMINDER_TEMPLATE,
        context={"order": order, "report": order.report},
        related=order,
        contact=order.contact,
        dedupe_key=f"checkout-reminder:{order.reference}",
    )


def order_recovery_switch(*, order: Order, session: dict, stripe_event=None) -> None:
    """Under the order's lock: the buyer came back through the recovery link, so the new
    session becomes the order's (the success page and later events are checked against
    it)."""
    order.stripe_session_id = session.get("id") or order.stripe_session_id
    order.stripe_session_url = session.get("url") or ""
    order.save(update_fields=["stripe_session_id", "stripe_session_url", "updated_at"])
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.NOTE,
        message=f"Back through the recovery link: session {order.stripe_session_id}.",
        stripe_event=stripe_event,
    )


def order_recovered_record(*, order: Order, stripe_event=None) -> None:
    """Under the order's lock, as it is marked paid through a recovered session."""
    order.recovered_at = timezone.now()
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.RECOVERED,
        message=f"Paid through the recovery link of session {order.abandoned_session_id}.",
        stripe_event=stripe_event,
    )

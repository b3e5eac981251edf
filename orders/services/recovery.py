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

The reminder is marketing, so it goes through the one marketing mechanism
(contacts/services/marketing.py, purpose "marketing"): Checkout's ticked box is recorded as
the buyer's consent (`checkout_consent_record`, source "Stripe Checkout") when the session
expires or completes, the reminder carries List-Unsubscribe and one-click
List-Unsubscribe-Post, and consent is checked again when the job runs and when the email is
sent: a buyer who unsubscribed or was erased meanwhile gets nothing, and the order's timeline
says why (`checkout_reminder_outcome`).
https://docs.stripe.com/payments/checkout/abandoned-carts"""

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from common import jobs
from contacts.models import MarketingConsent, OutboundEmail
from contacts.services.marketing import (
    MARKETING,
    Source,
    marketing_block_reason,
    marketing_consent_record,
    marketing_email_queue,
)
from contacts.services.outbox import email_outcome_register

from ..models import Order, OrderEvent
from .timeline import order_event_add

logger = logging.getLogger(__name__)
REMINDER_JOB = "order.checkout_reminder"
REMINDER_TEMPLATE = "orders/email/checkout_reminder"
OPT_IN = "opt_in"
CHECKOUT_CONSENT_VERSION = "stripe-checkout"
CHECKOUT_CONSENT_WORDING = (
    "Ticked Stripe Checkout's promotional-email box (consent_collection.promotions) "
    "on session {session}."
)


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


def checkout_consent_record(*, order: Order, session: dict) -> MarketingConsent | None:
    """Under the order's lock, in the transition that expires or pays it (so a redelivered
    event records nothing more): the buyer ticked Checkout's promotional box, so they have
    marketing consent, from Stripe Checkout. Nothing is recorded when consent is already in
    force, for opt_out or no answer (an unticked box withdraws nothing given elsewhere), or
    when the buyer withdrew after the session was created: Stripe does not say when the box
    was ticked, and a withdrawal that may be the later choice wins."""
    contact = order.contact
    if (session.get("consent") or {}).get("promotions") != OPT_IN or contact is None:
        return None
    if not marketing_block_reason(contact=contact, purpose=MARKETING):
        return None  # already in force: nothing changed
    if contact.erased_at is not None or _withdrawn_since(contact, session.get("created")):
        return None
    consent = marketing_consent_record(
        contact=contact,
        granted=True,
        source=Source.CHECKOUT,
        wording=CHECKOUT_CONSENT_WORDING.format(session=session.get("id") or "?"),
        version=CHECKOUT_CONSENT_VERSION,
    )
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.NOTE,
        message="Marketing consent recorded: the buyer ticked Checkout's promotional box.",
    )
    return consent


def _withdrawn_since(contact, created) -> bool:
    if not created:
        return False
    since = datetime.fromtimestamp(created, tz=UTC)
    return contact.marketing_consents.filter(
        purpose=MARKETING, granted=False, created_at__gte=since
    ).exists()


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
    blocked = marketing_block_reason(contact=order.contact, purpose=MARKETING)
    if blocked:  # ticked, but withdrawn since (or erased): the withdrawal wins
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.RECOVERY_REMINDER,
            message=f"No reminder: {blocked}",
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
        if email is None:
            reason = marketing_block_reason(contact=order.contact, purpose=MARKETING)
            order_event_add(
                order=order,
                kind=OrderEvent.Kind.RECOVERY_REMINDER,
                message=f"Not sent: {reason}",
            )
            return
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


def checkout_reminder_email_queue(*, order: Order) -> OutboundEmail | None:
    """The one place the checkout reminder is sent from: marketing email (unsubscribe
    headers, consent checked now and again at send time), to the buyer's contact. None when
    the buyer may not receive it (no consent, unsubscribed, erased, no contact)."""
    if order.contact is None:
        return None
    return marketing_email_queue(
        contact=order.contact,
        purpose=MARKETING,
        template=REMINDER_TEMPLATE,
        context={"order": order, "report": order.report},
        related=order,
        dedupe_key=f"checkout-reminder:{order.reference}",
    )


def checkout_reminder_outcome(email: OutboundEmail) -> None:
    """The send-time check stopped a queued reminder (the buyer unsubscribed or was erased
    after it was queued): the order's timeline says so."""
    if email.status != OutboundEmail.Status.SUPPRESSED or not email.related_id.isdigit():
        return
    order = Order.objects.filter(pk=int(email.related_id)).first()
    if order is not None:
        order_event_add(
            order=order,
            kind=OrderEvent.Kind.RECOVERY_REMINDER,
            message=f"Reminder suppressed at send time: {email.last_error}",
        )


email_outcome_register(template=REMINDER_TEMPLATE, handler=checkout_reminder_outcome)


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

"""Reconciliation for webhook outages: ask Stripe what happened recently and put each of our
orders in the state Stripe shows, through the same services the webhook uses (so running it
any number of times changes nothing twice). Beat runs it every STRIPE_RECONCILE_INTERVAL_SECONDS;
`manage.py stripe_reconcile` runs it by hand.

- Checkout Sessions: paid ones (also `no_payment_required`, a 100% discount) fulfil the
  order, expired ones expire it.
  https://docs.stripe.com/api/checkout/sessions/list
- Refunds: the charge's cumulative refunded amount is recorded (a full refund withdraws
  access). https://docs.stripe.com/api/refunds/list
- Disputes: each is recorded with its status; the order is disputed (access withdrawn) while
  one is open or lost, and a dispute won never withdraws access (it restores it).
  https://docs.stripe.com/api/disputes/list
- Sent invoices (pay by invoice) still open on our side, whenever they were sent: each is
  retrieved; a paid one fulfils the order, a voided one cancels it (the services the
  invoice.paid and invoice.voided webhooks call). https://docs.stripe.com/api/invoices/retrieve"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.conf import settings
from django.utils import timezone

from ..models import Order
from . import refunds
from .fulfilment import SESSION_PAID, order_checkout_expired, order_fulfil, order_fulfil_invoice
from .invoices import invoice_voided_record
from .stripe_client import (
    StripeUnavailable,
    amount_from_minor,
    stripe_client,
    stripe_dict,
    stripe_enabled,
)
from .webhooks import order_for_payment, order_for_session

logger = logging.getLogger(__name__)

IN_STEP = "in step"


@dataclass
class ReconcileLine:
    kind: str  # session | refund | dispute
    stripe_id: str
    reference: str
    stripe_state: str
    order_status: str
    action: str

    @property
    def acted(self) -> bool:
        return self.action not in (IN_STEP, "not one of our orders")


def stripe_reconcile_scheduled() -> dict[str, int | str]:
    """The beat job: a summary to log. Without Stripe configured there is nothing to do; with
    Stripe unreachable the next run catches up, so the failure is logged, not raised."""
    if not stripe_enabled():
        return {"skipped": "STRIPE_SECRET_KEY is not set"}
    try:
        lines = stripe_reconcile(hours=settings.STRIPE_RECONCILE_HOURS)
    except StripeUnavailable as exc:
        logger.warning("Stripe reconciliation failed; the next run tries again: %s", exc)
        return {"skipped": str(exc)}
    summary = {"checked": len(lines), "updated": sum(1 for line in lines if line.acted)}
    for line in lines:
        if line.acted:
            logger.warning("Reconciled %s %s: %s", line.kind, line.reference, line.action)
    logger.info("Stripe reconciliation: %(checked)s checked, %(updated)s updated", summary)
    return summary


def stripe_reconcile(*, hours: int) -> list[ReconcileLine]:
    since = int((timezone.now() - timedelta(hours=hours)).timestamp())
    client = stripe_client()
    sessions = _list(client.v1.checkout.sessions.list, since, "sessions")
    lines = [_session_reconcile(session) for session in sessions]
    charges: dict[str, dict] = {}
    for refund in _list(client.v1.refunds.list, since, "refunds"):
        lines.append(_refund_reconcile(refund, client=client, charges=charges))
    lines += [_dispute_reconcile(d) for d in _list(client.v1.disputes.list, since, "disputes")]
    return lines + _invoices_reconcile(client=client)


def _list(method, since: int, what: str) -> list[dict]:
    try:
        pages = method({"created": {"gte": since}, "limit": 100})
        return [stripe_dict(item) for item in pages.auto_paging_iter()]
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Listing {what} failed: {exc}", definitive=False) from exc


def _line(kind: str, obj: dict, order: Order | None, state: str, action: str) -> ReconcileLine:
    if order is not None:
        order.refresh_from_db()
    return ReconcileLine(
        kind=kind,
        stripe_id=obj.get("id", ""),
        reference=order.reference if order else "—",
        stripe_state=state,
        order_status=order.status if order else "—",
        action=action if order else "not one of our orders",
    )


# --- Checkout Sessions ----------------------------------------------------------------------


def _session_reconcile(session: dict) -> ReconcileLine:
    order = order_for_session(session)
    action = _session_action(order=order, session=session) if order else ""
    state = f"{session.get('status') or ''}/{session.get('payment_status') or ''}"
    line = _line("session", session, order, state, action)
    if order is None and session.get("client_reference_id"):
        line.reference = session["client_reference_id"]
    return line


def _session_action(*, order: Order, session: dict) -> str:
    if session.get("payment_status") in SESSION_PAID and order.status in (
        Order.Status.PENDING,
        Order.Status.FAILED,
        Order.Status.ABANDONED,
    ):
        return "fulfil: " + order_fulfil(order=order, session=session)
    if session.get("status") == "expired" and order.status == Order.Status.PENDING:
        return "expire: " + order_checkout_expired(order=order, session=session)
    return IN_STEP


# --- Refunds and disputes -------------------------------------------------------------------


def _refund_reconcile(refund: dict, *, client, charges: dict[str, dict]) -> ReconcileLine:
    """A refund names its charge; the charge knows the cumulative refunded amount, which is
    what `charge.refunded` would have told us."""
    order = order_for_payment(refund)
    state = f"refund {refund.get('status') or ''} {refund.get('amount')}"
    if order is None or refund.get("status") != "succeeded":
        return _line("refund", refund, order, state, IN_STEP)
    charge = _charge(refund.get("charge"), client=client, charges=charges)
    refunded = charge.get("amount_refunded")
    fully = bool(charge.get("refunded"))
    action = IN_STEP
    if _refund_missing(order=order, amount_refunded=refunded, fully=fully):
        action = "refund: " + refunds.order_refund_record(
            order=order, amount_refunded=refunded, fully=fully, refund_id=refund.get("id", "")
        )
    return _line("refund", refund, order, state, action)


def _charge(charge_id, *, client, charges: dict[str, dict]) -> dict:
    if charge_id not in charges:
        try:
            charges[charge_id] = stripe_dict(client.v1.charges.retrieve(charge_id))
        except stripe.StripeError as exc:
            raise StripeUnavailable(f"Reading charge failed: {exc}", definitive=False) from exc
    return charges[charge_id]


def _refund_missing(*, order: Order, amount_refunded: int | None, fully: bool) -> bool:
    if order.status in (Order.Status.REFUNDED, Order.Status.DISPUTED):
        return False
    if fully:
        return True
    amount = amount_from_minor(amount_refunded, order.currency)
    return amount is not None and amount > order.amount_refunded


def _dispute_reconcile(dispute: dict) -> ReconcileLine:
    order = order_for_payment(dispute)
    state = f"dispute {dispute.get('status') or ''}"
    action = IN_STEP
    if order is not None and order.status != Order.Status.REFUNDED:
        # Recorded whatever its status, so a dispute won is never taken for an open one:
        # the order's access follows all its disputes (refunds.order_dispute_record).
        before = order.status
        result = refunds.order_dispute_record(order=order, dispute=dispute)
        order.refresh_from_db()
        if order.status != before:
            action = "dispute: " + result
    return _line("dispute", dispute, order, state, action)


# --- Sent invoices --------------------------------------------------------------------------


def _invoices_reconcile(*, client) -> list[ReconcileLine]:
    """Few rows (open invoices of pay-by-invoice orders), each asked of Stripe directly: an
    invoice is paid days or weeks after it was created, outside any `created` window."""
    waiting = Order.objects.filter(
        payment_route=Order.PaymentRoute.INVOICE,
        status=Order.Status.PENDING,
        invoice_sent_at__isnull=False,
    ).exclude(stripe_invoice_id="")
    return [_invoice_reconcile(order, client=client) for order in waiting]


def _invoice_reconcile(order: Order, *, client) -> ReconcileLine:
    try:
        invoice = stripe_dict(
            client.v1.invoices.retrieve(order.stripe_invoice_id, {"expand": ["payments"]})
        )
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Reading invoice failed: {exc}", definitive=False) from exc
    status = invoice.get("status") or ""
    action = IN_STEP
    if status == "paid":
        action = "fulfil: " + order_fulfil_invoice(order=order, invoice=invoice)
    elif status == "void":
        action = "void: " + invoice_voided_record(order=order, invoice=invoice)
    return _line("invoice", invoice, order, f"invoice {status}", action)

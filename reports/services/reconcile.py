"""Reconciliation for webhook outages: ask Stripe for recent Checkout Sessions and put each
of our orders in the state its session shows, through the same fulfilment service the
webhook uses (so running it any number of times changes nothing twice).
https://docs.stripe.com/api/checkout/sessions/list"""

from dataclasses import dataclass
from datetime import timedelta

import stripe
from django.utils import timezone

from ..models import Order
from .fulfilment import order_checkout_expired, order_fulfil
from .stripe_client import StripeUnavailable, stripe_client, stripe_dict
from .webhooks import order_for_session


@dataclass
class ReconcileLine:
    session_id: str
    reference: str
    session_status: str
    payment_status: str
    order_status: str
    action: str


def stripe_reconcile(*, hours: int) -> list[ReconcileLine]:
    since = int((timezone.now() - timedelta(hours=hours)).timestamp())
    client = stripe_client()
    try:
        pages = client.v1.checkout.sessions.list({"created": {"gte": since}, "limit": 100})
        sessions = [stripe_dict(s) for s in pages.auto_paging_iter()]
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"Listing sessions failed: {exc}", definitive=False) from exc
    return [_reconcile_one(session) for session in sessions]


def _reconcile_one(session: dict) -> ReconcileLine:
    order = order_for_session(session)
    action = "not one of our orders"
    if order is not None:
        action = _action_for(order=order, session=session)
        order.refresh_from_db()
    return ReconcileLine(
        session_id=session.get("id", ""),
        reference=order.reference if order else (session.get("client_reference_id") or "—"),
        session_status=session.get("status") or "",
        payment_status=session.get("payment_status") or "",
        order_status=order.status if order else "—",
        action=action,
    )


def _action_for(*, order: Order, session: dict) -> str:
    if session.get("payment_status") == "paid" and order.status in (
        Order.Status.PENDING,
        Order.Status.FAILED,
        Order.Status.EXPIRED,
    ):
        return "fulfil: " + order_fulfil(order=order, session=session)
    if session.get("status") == "expired" and order.status == Order.Status.PENDING:
        return "expire: " + order_checkout_expired(order=order, session=session)
    return "in step"

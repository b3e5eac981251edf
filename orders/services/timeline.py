"""The order timeline staff read in admin, and the "needs attention" flag."""

from ..models import Order, OrderEvent, StripeEvent


def order_event_add(
    *,
    order: Order,
    kind: str,
    message: str = "",
    stripe_event: StripeEvent | None = None,
    actor=None,
) -> OrderEvent:
    event = OrderEvent(
        order=order, kind=kind, message=message[:500], stripe_event=stripe_event, actor=actor
    )
    event.full_clean()
    event.save()
    return event


def order_flag(*, order: Order, note: str) -> None:
    """Ask staff to look at the order (admin filters on `needs_attention`). The caller saves."""
    order.needs_attention = True
    order.attention_note = note[:500]

"""Reads for the buyer's pages."""

from django.db.models import QuerySet

from orders.models import Order

# What "My reports" lists: orders that were paid, whatever happened after.
BOUGHT = (
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.REFUNDED,
    Order.Status.DISPUTED,
)


def buyer_orders(*, email: str) -> QuerySet[Order]:
    """Every order bought with this address (any case: the address as typed at checkout)."""
    return (
        Order.objects.filter(buyer_email__iexact=email.strip(), status__in=BOUGHT)
        .select_related("report", "licence")
        .order_by("-paid_at", "-created_at")
    )


def buyer_order_get(*, email: str, reference: str) -> Order | None:
    return buyer_orders(email=email).filter(reference=reference).first()

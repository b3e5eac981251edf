"""Reads for orders: the sales summary staff see in admin."""

from datetime import datetime

from django.db.models import Count, QuerySet, Sum

from .models import Order

SOLD = (Order.Status.PAID, Order.Status.FULFILLED)


def orders_sold(*, since: datetime, until: datetime) -> QuerySet[Order]:
    """Orders paid in [since, until) and not refunded or disputed since."""
    return Order.objects.filter(status__in=SOLD, paid_at__gte=since, paid_at__lt=until)


def sales_summary(*, since: datetime, until: datetime) -> dict[str, list[dict]]:
    """Orders and revenue by report, by licence and by utm campaign, each per currency
    (amounts in different currencies are never added together)."""
    sold = orders_sold(since=since, until=until)

    def grouped(*fields):
        return list(
            sold.values(*fields, "currency")
            .annotate(orders=Count("pk"), revenue=Sum("amount_paid"))
            .order_by("-revenue", *fields)
        )

    return {
        "by_report": grouped("report__number", "report__title"),
        "by_licence": grouped("licence_kind"),
        "by_campaign": grouped("utm_campaign", "utm_source", "utm_medium"),
        "totals": grouped(),
        "refunded": list(
            Order.objects.filter(refunded_at__gte=since, refunded_at__lt=until)
            .values("currency")
            .annotate(orders=Count("pk"), amount=Sum("amount_refunded"))
            .order_by("currency")
        ),
    }

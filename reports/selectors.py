"""Reads. Each report page costs a fixed number of queries, whatever the catalogue's size."""

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Category, Licence, Region, RegionCountry, Report

PUBLIC_STATUSES = [Report.Status.PUBLISHED, Report.Status.UPCOMING]


def report_list_public(*, query: str = "", category_slug: str = "") -> QuerySet[Report]:
    reports = Report.objects.filter(status__in=PUBLIC_STATUSES).select_related("category")
    if query:
        reports = reports.filter(Q(title__icontains=query) | Q(market_name__icontains=query))
    if category_slug:
        reports = reports.filter(category__slug=category_slug)
    return reports.order_by("status", "-published_at", "title")


def category_list_public() -> QuerySet[Category]:
    """Categories that hold at least one published or upcoming report, with that count."""
    return (
        Category.objects.annotate(
            public_reports=Count("reports", filter=Q(reports__status__in=PUBLIC_STATUSES))
        )
        .filter(public_reports__gt=0)
        .order_by("name")
    )


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

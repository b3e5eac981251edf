"""Reads. Each report page costs a fixed number of queries, whatever the catalogue's size."""

from django.db.models import Prefetch, Q, QuerySet

from .models import Region, RegionCountry, Report


def report_list_public(*, query: str = "", category_slug: str = "") -> QuerySet[Report]:
    reports = Report.objects.filter(
        status__in=[Report.Status.PUBLISHED, Report.Status.UPCOMING]
    ).select_related("category")
    if query:
        reports = reports.filter(Q(title__icontains=query) | Q(market_name__icontains=query))
    if category_slug:
        reports = reports.filter(category__slug=category_slug)
    return reports.order_by("status", "-published_at", "title")


def report_get_public(*, number: int) -> Report | None:
    """The report with every part the page shows, in a constant number of queries."""
    return (
        Report.objects.filter(
            number=number, status__in=[Report.Status.PUBLISHED, Report.Status.UPCOMING]
        )
        .select_related("category")
        .prefetch_related(
            "dynamics",
            "key_players",
            "segments",
            "toc_entries",
            "faqs",
            "licences",
            Prefetch(
                "regions",
                queryset=Region.objects.prefetch_related(
                    Prefetch("countries", queryset=RegionCountry.objects.order_by("position"))
                ),
            ),
        )
        .first()
    )

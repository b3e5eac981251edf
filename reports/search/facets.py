"""Facet counts beside the results: category, region, segment, status and edition year.
Each facet is counted over the current search with every *other* facet's filter applied,
so its numbers say how many results choosing that value gives (and switching values within
a facet stays possible)."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.db.models.functions import ExtractYear

from ..models import Region, Report, Segment

FACETS = ("category", "region", "segment", "status", "year")
TITLES = {
    "category": "Category",
    "region": "Region",
    "segment": "Segment",
    "status": "Status",
    "year": "Edition year",
}
STATUS_LABELS = {Report.Status.PUBLISHED: "Published", Report.Status.UPCOMING: "Upcoming"}


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    count: int


def facet_filter(reports: QuerySet, name: str, value: str) -> QuerySet:
    """`reports` narrowed to one facet value (Exists, so a report never appears twice)."""
    if name == "category":
        return reports.filter(category__slug=value)
    if name == "status":
        return reports.filter(status=value)
    if name == "year":
        return reports.filter(edition_date__year=int(value))
    model = Region if name == "region" else Segment
    return reports.filter(Exists(model.objects.filter(report=OuterRef("pk"), name=value)))


def facet_counts(reports: QuerySet, name: str, *, limit: int) -> list[FacetCount]:
    """The `limit` most frequent values of one facet among `reports`, with their counts."""
    if name == "category":
        rows = (
            reports.values("category__slug", "category__name")
            .annotate(n=Count("pk"))
            .order_by("-n", "category__name")[:limit]
        )
        return [FacetCount(r["category__slug"], r["category__name"], r["n"]) for r in rows]
    if name == "status":
        rows = reports.values("status").annotate(n=Count("pk")).order_by("status")
        return [FacetCount(r["status"], STATUS_LABELS.get(r["status"], ""), r["n"]) for r in rows]
    if name == "year":
        rows = (
            reports.annotate(year=ExtractYear("edition_date"))
            .values("year")
            .annotate(n=Count("pk"))
            .order_by("-year")[:limit]
        )
        return [FacetCount(str(r["year"]), str(r["year"]), r["n"]) for r in rows]
    model = Region if name == "region" else Segment
    rows = (
        model.objects.filter(report__in=reports.order_by().values("pk"))
        .values("name")
        .annotate(n=Count("report", distinct=True))
        .order_by("-n", "name")[:limit]
    )
    return [FacetCount(r["name"], r["name"], r["n"]) for r in rows]

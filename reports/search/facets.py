"""Facet counts beside the results: category, region, segment, status and edition year.
Each facet is counted over the current search with every *other* facet's filter applied,
so its numbers say how many results choosing that value gives (and switching values within
a facet stays possible)."""

from dataclasses import dataclass

from django.db import connections
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
    return _part_counts(Region if name == "region" else Segment, reports, limit)


def _part_counts(model, reports: QuerySet, limit: int) -> list[FacetCount]:
    """Reports per region (or segment) name among `reports`: plain counts, which hash-
    aggregate (COUNT(DISTINCT …) sorts every row: seconds over a whole catalogue). A region
    name is unique within its report; a segment name only within its dimension, so a report
    naming one segment under both dimensions is counted once: `_segment_doubles`."""
    ids, params = _sql(reports.order_by().values("pk"))
    table = model._meta.db_table
    sql = (
        f"SELECT name, count(*) AS n FROM {table} WHERE report_id IN ({ids}) "  # noqa: S608 - table name and Django's own SQL only
        "GROUP BY name ORDER BY n DESC, name LIMIT %s"
    )
    with connections[reports.db].cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        counts = dict(cursor.fetchall())
    if model is Segment and counts:
        for name, doubles in _segment_doubles(reports, list(counts)).items():
            counts[name] -= doubles
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [FacetCount(name, name, count) for name, count in ordered]


def _segment_doubles(reports: QuerySet, names: list[str]) -> dict[str, int]:
    """Reports among `reports` that list a segment name under both dimensions, per name:
    a join of the two dimensions' rows for just these names (the name index)."""
    ids, params = _sql(reports.order_by().values("pk"))
    table = Segment._meta.db_table
    marks = ", ".join(["%s"] * len(names))
    sql = (
        f"SELECT a.name, count(*) FROM {table} a JOIN {table} b "  # noqa: S608 - table name, placeholders and Django's own SQL only
        "ON b.report_id = a.report_id AND b.name = a.name "
        f"WHERE a.dimension = %s AND b.dimension = %s AND a.name IN ({marks}) "
        f"AND b.name IN ({marks}) AND a.report_id IN ({ids}) GROUP BY a.name"
    )
    with connections[reports.db].cursor() as cursor:
        cursor.execute(
            sql,
            [Segment.Dimension.APPLICATION, Segment.Dimension.TYPE, *names, *names, *params],
        )
        return dict(cursor.fetchall())


def _sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()

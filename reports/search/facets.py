"""Facet counts beside the results: category, region, segment, status and edition year.
Each facet is counted over the current search with every *other* facet's filter applied,
so its numbers say how many results choosing that value gives (and switching values within
a facet stays possible).

All of it — the total and every facet — comes from one statement that finds the matches
once (`facet_summary`): the words' matches become a common table with a true/false column
per chosen filter, and each count reads that table with the other filters' columns. Finding
the matches is the cost (the full-text match, or the whole catalogue when browsing); six
statements found them six times."""

from dataclasses import dataclass

from django.db import connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractYear

from ..models import Category, Region, Report, Segment

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
    """`reports` narrowed to one facet value."""
    return reports.filter(_chosen(name, value))


def _chosen(name: str, value: str):
    """The condition "this report has `value` for facet `name`" (Exists, so a report with
    two matching rows is never counted or listed twice)."""
    if name == "category":
        return Q(category__slug=value)
    if name == "status":
        return Q(status=value)
    if name == "year":
        return Q(edition_date__year=int(value))
    model = Region if name == "region" else Segment
    return Exists(model.objects.filter(report=OuterRef("pk"), name=value))


# Per facet: the rows it counts (`m` is the matches; `{where}` the other facets' filters).
# Segment names repeat across a report's two dimensions: DISTINCT counts a report once.
_COUNTS = {
    "category": (
        "SELECT 'category', c.slug, c.name, COUNT(*) FROM m "
        "JOIN {category} c ON c.id = m.in_category WHERE {where} GROUP BY c.slug, c.name"
    ),
    "region": (
        "SELECT 'region', g.name, g.name, COUNT(*) FROM m "
        "JOIN {region} g ON g.report_id = m.report WHERE {where} GROUP BY g.name"
    ),
    "segment": (
        "SELECT 'segment', d.name, d.name, COUNT(*) FROM (SELECT DISTINCT s.report_id, s.name "
        "FROM m JOIN {segment} s ON s.report_id = m.report WHERE {where}) d GROUP BY d.name"
    ),
    "status": "SELECT 'status', m.state, m.state, COUNT(*) FROM m WHERE {where} GROUP BY m.state",
    "year": (
        "SELECT 'year', CAST(m.edition AS TEXT), '', COUNT(*) FROM m "
        "WHERE {where} AND m.edition IS NOT NULL GROUP BY m.edition"
    ),
}


def facet_summary(
    matches: QuerySet, filters: dict[str, str], *, limit: int
) -> tuple[int, dict[str, list[FacetCount]]]:
    """(total, counts per facet) for `matches` (the search's words, no facet filter yet)
    narrowed by `filters`; each facet's `limit` most frequent values (years: the newest)."""
    chosen = {
        f"chosen_{name}": ExpressionWrapper(_chosen(name, value), output_field=BooleanField())
        for name, value in filters.items()
    }
    rows = matches.order_by().values(
        report=F("pk"),
        in_category=F("category_id"),
        state=F("status"),
        edition=ExtractYear("edition_date"),
        **chosen,
    )
    compiler = rows.query.get_compiler(using=rows.db)
    matches_sql, params = compiler.as_sql()

    def where(skip: str = "") -> str:
        return " AND ".join(["1 = 1", *(f"m.chosen_{n}" for n in filters if n != skip)])

    tables = {
        "category": Category._meta.db_table,
        "region": Region._meta.db_table,
        "segment": Segment._meta.db_table,
    }
    parts = [f"SELECT 'total', '', '', COUNT(*) FROM m WHERE {where()}"]  # noqa: S608 - constants only
    parts += [_COUNTS[name].format(where=where(name), **tables) for name in FACETS]
    sql = f"WITH m AS ({matches_sql}) " + " UNION ALL ".join(parts)  # noqa: S608 - constants and Django's own SQL only
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    total = next(n for facet, _, _, n in found if facet == "total")
    counts = {name: [] for name in FACETS}
    for facet, value, label, n in found:
        if facet in counts and n:
            value = str(int(float(value))) if facet == "year" else str(value)
            counts[facet].append(FacetCount(value, _label(facet, value, label), n))
    for name, values in counts.items():
        if name == "status":
            values.sort(key=lambda c: c.value)
        elif name == "year":
            values.sort(key=lambda c: -int(c.value))
            del values[limit:]
        else:
            values.sort(key=lambda c: (-c.count, c.label))
            del values[limit:]
    return total, counts


def _label(facet: str, value, label) -> str:
    if facet == "status":
        return STATUS_LABELS.get(value, "")
    return value if facet == "year" else str(label)

"""Facet counts beside the results: category, region, segment, status and edition year.
Each facet is counted over the current search with every *other* facet's filter applied,
so its numbers say how many results choosing that value gives (and switching values within
a facet stays possible).

All of it — the total and every facet — comes from one statement that finds the matches
once (`facet_summary`): the words' matches become a common table with a true/false column
per chosen filter, and each count reads that table with the other filters' columns. Finding
the matches is the cost (the full-text match, or the whole catalogue when browsing); six
statements found them six times.

Exact counts up to a threshold, estimates beyond (`search_counts`): while the words match
at most CATALOGUE_SEARCH_EXACT_COUNT reports, everything is counted; beyond, the facets are
counted over a sample of the matches — those in the first k of the catalogue's
SAMPLE_BUCKETS hash slices (schema.py), k chosen for about CATALOGUE_SEARCH_SAMPLE_SIZE
matches — and scaled up, and so is the total unless the filters narrow it to the threshold
or less (then it is counted). An estimate is marked as one (the page says "about") and
rounded to two significant figures. The sample is the same on every request: a search
shows the same estimate until the catalogue changes."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractYear

from ..models import Category, Region, Report, Segment
from .matching import OnReports
from .schema import SAMPLE_BUCKET, SAMPLE_BUCKETS

FIRST_SLICE = 16  # sample slices counted first (1/64 of the catalogue)

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
    estimated: bool = False


@dataclass(frozen=True)
class Counts:
    total: int
    total_estimated: bool
    facets: dict[str, list[FacetCount]]


def search_counts(matches: QuerySet, filters: dict[str, str], *, limit: int) -> Counts:
    """The total and the facets of `matches` (the search's words, no facet filter yet)
    narrowed by `filters`: exact up to CATALOGUE_SEARCH_EXACT_COUNT matches, estimated from
    a sample beyond.

    The first statement counts the first FIRST_SLICE slices (1.6 % of the catalogue) as if
    they were the sample: a common word's matches there are a sample big enough, and so many
    that more than the threshold match for certain (a word matched by no more than the
    threshold would have a third as many there: a chance below one in a billion); nothing
    else is counted. Otherwise the matches are counted up to the threshold: exact counts
    when that is all, else a sample of the size wanted."""
    exact_up_to = settings.CATALOGUE_SEARCH_EXACT_COUNT
    size = settings.CATALOGUE_SEARCH_SAMPLE_SIZE
    first = facet_summary(matches.filter(in_sample(FIRST_SLICE)), filters, limit=limit)
    if first.matches * SAMPLE_BUCKETS / FIRST_SLICE >= 3 * exact_up_to:
        if first.matches * 2 >= size:
            return _estimated(first, FIRST_SLICE, matches, filters)
        buckets = math.ceil(FIRST_SLICE * size / first.matches)
    elif count_up_to(matches, exact_up_to) <= exact_up_to:
        exact = facet_summary(matches, filters, limit=limit)
        return Counts(exact.total, False, exact.facets)
    else:
        likely = max(exact_up_to + 1, first.matches * SAMPLE_BUCKETS / FIRST_SLICE)
        buckets = math.ceil(SAMPLE_BUCKETS * size / likely)
    buckets = min(buckets, SAMPLE_BUCKETS)
    sample = facet_summary(matches.filter(in_sample(buckets)), filters, limit=limit)
    return _estimated(sample, buckets, matches, filters)


def _estimated(sample: "Summary", buckets: int, matches: QuerySet, filters: dict) -> Counts:
    """Counts scaled up from a sample of `buckets` slices of more matches than the
    threshold; the total is counted instead when the filters leave no more than that."""
    exact_up_to = settings.CATALOGUE_SEARCH_EXACT_COUNT
    scale = SAMPLE_BUCKETS / buckets
    facets = {
        name: [FacetCount(c.value, c.label, approximate(c.count * scale), True) for c in values]
        for name, values in sample.facets.items()
    }
    if filters:
        narrowed = matches
        for name, value in filters.items():
            narrowed = facet_filter(narrowed, name, value)
        total = count_up_to(narrowed, exact_up_to)
        if total <= exact_up_to:
            return Counts(total, False, facets)
    # More than the threshold for certain: an estimate below it is the sample's noise.
    return Counts(max(approximate(sample.total * scale), exact_up_to + 1), True, facets)


def count_up_to(reports: QuerySet, limit: int) -> int:
    """How many `reports` there are, counting no further than `limit` + 1."""
    return reports.order_by()[: limit + 1].count()


def in_sample(buckets: int) -> OnReports:
    """The condition "the report is in the first `buckets` sample slices"."""
    bucket = SAMPLE_BUCKET.replace("%", "%%")  # a statement with parameters: % is %%
    return OnReports(f"{bucket} < %s", [buckets], output_field=BooleanField())


def approximate(count: float) -> int:
    """A count rounded to two significant figures (31,679: 32,000)."""
    if count < 100:
        return round(count)
    magnitude = 10 ** (len(str(round(count))) - 2)
    return round(count / magnitude) * magnitude


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


@dataclass(frozen=True)
class Summary:
    matches: int  # `matches`, before the filters
    total: int  # `matches` narrowed by every filter
    facets: dict[str, list[FacetCount]]


def facet_summary(matches: QuerySet, filters: dict[str, str], *, limit: int) -> Summary:
    """The counts of `matches` (the search's words, no facet filter yet) narrowed by
    `filters`; each facet's `limit` most frequent values (years: the newest)."""
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
    parts = [
        "SELECT 'matches', '', '', COUNT(*) FROM m",
        f"SELECT 'total', '', '', COUNT(*) FROM m WHERE {where()}",  # noqa: S608 - constants only
    ]
    parts += [_COUNTS[name].format(where=where(name), **tables) for name in FACETS]
    sql = f"WITH m AS ({matches_sql}) " + " UNION ALL ".join(parts)  # noqa: S608 - constants and Django's own SQL only
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    total = next(n for facet, _, _, n in found if facet == "total")
    all_matches = next(n for facet, _, _, n in found if facet == "matches")
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
    return Summary(all_matches, total, counts)


def _label(facet: str, value, label) -> str:
    if facet == "status":
        return STATUS_LABELS.get(value, "")
    return value if facet == "year" else str(label)

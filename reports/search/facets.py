"""Facet counts beside the results: category, region, the segments of each dimension (by
type — trial phases, say — and by application — therapeutic areas), status and edition year.
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

import json
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractYear

from ..models import Category, Region, Report, Segment
from .matching import OnReports
from .schema import SAMPLE_BUCKET, SAMPLE_BUCKETS

# The facets shown, and the filters a link may carry: `segment` (any dimension) is what the
# Segment facet was before it was split by dimension; old links keep working.
FACETS = ("category", "region", "type", "application", "status", "year")
FILTERS = (*FACETS, "segment")
SEGMENT_FACETS = {"type": Segment.Dimension.TYPE, "application": Segment.Dimension.APPLICATION}
TITLES = {
    "category": "Category",
    "region": "Region",
    "type": "Segment by type",
    "application": "Segment by application",
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
    cut: dict[str, int]  # per facet, how many values there were beyond `limit`


def search_counts(matches: QuerySet, filters: dict[str, str], *, limit: int) -> Counts:
    """The total and the facets of `matches` (the search's words, no facet filter yet)
    narrowed by `filters`: exact up to CATALOGUE_SEARCH_EXACT_COUNT matches, estimated from
    a sample beyond.

    PostgreSQL's statistics say about how many match (the planner's estimate: the share of
    reports holding each word). Well past the threshold, the sample is counted straight
    away, as many slices as hold about CATALOGUE_SEARCH_SAMPLE_SIZE matches; it is kept
    when it shows that more than the threshold match for certain (`beyond`), and taken
    again at the right size when the statistics were far off. Otherwise (or with no
    statistics: SQLite) the matches are counted up to the threshold: exact counts when that
    is all, else a sample of the size wanted."""
    exact_up_to = settings.CATALOGUE_SEARCH_EXACT_COUNT
    size = settings.CATALOGUE_SEARCH_SAMPLE_SIZE
    planned = _planned_rows(matches)
    if planned is not None and planned > 3 * exact_up_to:
        buckets = _buckets(size, planned)
        sample = facet_summary(matches.filter(in_sample(buckets)), filters, limit=limit)
        if beyond(sample.matches, buckets, exact_up_to):
            if sample.matches * 4 >= size or buckets == SAMPLE_BUCKETS:
                return _estimated(sample, buckets, matches, filters)
            # Far fewer than the statistics said, but still more than the threshold.
            found = sample.matches * SAMPLE_BUCKETS / buckets
            buckets = _buckets(size, found)
            sample = facet_summary(matches.filter(in_sample(buckets)), filters, limit=limit)
            return _estimated(sample, buckets, matches, filters)
    if count_up_to(matches, exact_up_to) <= exact_up_to:
        exact = facet_summary(matches, filters, limit=limit)
        return Counts(exact.total, False, exact.facets, exact.cut)
    buckets = _buckets(size, max(exact_up_to + 1, planned or 0))
    sample = facet_summary(matches.filter(in_sample(buckets)), filters, limit=limit)
    return _estimated(sample, buckets, matches, filters)


def _buckets(size: int, matches: float) -> int:
    """How many slices hold about `size` of `matches`."""
    return max(1, min(SAMPLE_BUCKETS, math.ceil(SAMPLE_BUCKETS * size / max(matches, 1))))


def _planned_rows(reports: QuerySet) -> float | None:
    """PostgreSQL's estimate of how many `reports` there are (planning only, no execution);
    None elsewhere."""
    if connections[reports.db].vendor != "postgresql":
        return None
    plan = json.loads(reports.order_by().values("pk").explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"]


def _estimated(sample: "Summary", buckets: int, matches: QuerySet, filters: dict) -> Counts:
    """Counts scaled up from a sample of `buckets` slices of more matches than the
    threshold; the total is counted instead when the filters leave no more than that."""
    if buckets == SAMPLE_BUCKETS:  # a sample as big as the catalogue: no estimate
        return Counts(sample.total, False, sample.facets, sample.cut)
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
            return Counts(total, False, facets, sample.cut)
    # More than the threshold for certain: an estimate below it is the sample's noise.
    total = max(approximate(sample.total * scale), exact_up_to + 1)
    return Counts(total, True, facets, sample.cut)


def beyond(found: int, buckets: int, threshold: int) -> bool:
    """Whether `found` matches in `buckets` slices say more than `threshold` match in all,
    for certain: were there only `threshold`, the slices would hold λ of them on average,
    and `found` is more than eight standard deviations above (the hash spreads reports over
    the slices as evenly as chance: a report's slice is independent of what it says)."""
    expected = threshold * buckets / SAMPLE_BUCKETS
    return found >= expected + 8 * math.sqrt(expected) + 4


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
    if name == "region":
        return Exists(Region.objects.filter(report=OuterRef("pk"), name=value))
    segments = Segment.objects.filter(report=OuterRef("pk"), name=value)
    if name in SEGMENT_FACETS:
        segments = segments.filter(dimension=SEGMENT_FACETS[name])
    return Exists(segments)


# Per facet: the rows it counts (`m` is the matches; `{where}` the other facets' filters).
# A report has a segment name once per dimension (a unique constraint): each dimension's
# facet counts reports.
_COUNTS = {
    "category": (
        "SELECT 'category', c.slug, c.name, COUNT(*) FROM m "
        "JOIN {category} c ON c.id = m.in_category WHERE {where} GROUP BY c.slug, c.name"
    ),
    "region": (
        "SELECT 'region', g.name, g.name, COUNT(*) FROM m "
        "JOIN {region} g ON g.report_id = m.report WHERE {where} GROUP BY g.name"
    ),
    **{
        name: (
            "SELECT '<facet>', s.name, s.name, COUNT(*) FROM m JOIN {segment} s "
            "ON s.report_id = m.report AND s.dimension = '<dimension>' "
            "WHERE {where} GROUP BY s.name"
        )
        .replace("<facet>", name)
        .replace("<dimension>", dimension)
        for name, dimension in SEGMENT_FACETS.items()
    },
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
    cut: dict[str, int]  # per facet, how many values there were beyond `limit`


def facet_summary(matches: QuerySet, filters: dict[str, str], *, limit: int) -> Summary:
    """The counts of `matches` (the search's words, no facet filter yet) narrowed by
    `filters`; each facet's `limit` most frequent values (years: the newest), and how many
    values each had beyond those."""
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
    cut = {}
    for name, values in counts.items():
        if name == "status":
            values.sort(key=lambda c: c.value)
        elif name == "year":
            values.sort(key=lambda c: -int(c.value))
        else:
            values.sort(key=lambda c: (-c.count, c.label))
        cut[name] = max(0, len(values) - limit)
        del values[limit:]
    return Summary(all_matches, total, counts, cut)


def _label(facet: str, value, label) -> str:
    if facet == "status":
        return STATUS_LABELS.get(value, "")
    return value if facet == "year" else str(label)

"""Related reports for the report page, computed by Celery beat (`related_reports_refresh`,
every RELATED_REFRESH_INTERVAL_SECONDS) and stored as cards in `RelatedReports`, which the
page's own report query joins: a page view costs no query more, whatever the catalogue.

Two lists:
- **similar**: public reports of the same category that cover the most of the same
  regional markets, newest first (a report without regions: its category's newest);
- **also requested**: "readers who requested this sample also requested", from co-interest
  counts that apps above the catalogue provide (enquiries: sample requests), each pair
  counted in distinct people and kept only from RELATED_MIN_PAIRS up, so that no single
  person's interest can be read from the page.

The catalogue imports no app above it: those register their co-interest source here
(`co_interest_source_register`)."""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.pagecache import page_cache_invalidate

from ..models import Region, RelatedReports, Report

logger = logging.getLogger(__name__)
PUBLIC_STATUSES = (Report.Status.PUBLISHED, Report.Status.UPCOMING)

# (min_people) -> (report id, other report id, distinct people) for every ordered pair
# that at least `min_people` people showed interest in both of.
CoInterestSource = Callable[[int], Iterable[tuple[int, int, int]]]
_co_interest_sources: list[CoInterestSource] = []


def co_interest_source_register(source: CoInterestSource) -> None:
    if source not in _co_interest_sources:
        _co_interest_sources.append(source)


def _cards(reports: dict[int, dict]) -> Callable[[Iterable[int]], list[dict]]:
    def cards(ids: Iterable[int]) -> list[dict]:
        return [
            {k: reports[i][k] for k in ("number", "slug", "title")} for i in ids if i in reports
        ]

    return cards


def _public_reports() -> dict[int, dict]:
    rows = (
        Report.objects.filter(status__in=PUBLIC_STATUSES)
        .order_by("-published_at", "-number")
        .values("id", "number", "slug", "title", "category_id")
    )
    return {row["id"]: row for row in rows}  # newest first (dicts keep their order)


def _markets(report_ids) -> dict[int, frozenset[str]]:
    names = defaultdict(set)
    rows = Region.objects.filter(report__status__in=PUBLIC_STATUSES).values_list(
        "report_id", "name"
    )
    for report_id, name in rows.iterator(chunk_size=10_000):
        if report_id in report_ids:
            names[report_id].add(name.casefold())
    return {report_id: frozenset(found) for report_id, found in names.items()}


def similar_reports(reports: dict[int, dict], count: int) -> dict[int, list[int]]:
    """Per report, up to `count` ids: same category, most shared markets, newest first.
    Reports of one category with the same markets form a group (a catalogue has a few market
    sets: global, or one region), so each report looks at the first `count + 1` members of
    a few groups, not at its whole category."""
    markets = _markets(reports)
    order = {report_id: position for position, report_id in enumerate(reports)}
    groups: dict[int, dict[frozenset, list[int]]] = defaultdict(lambda: defaultdict(list))
    for report_id, row in reports.items():  # newest first, so each group is too
        groups[row["category_id"]][markets.get(report_id, frozenset())].append(report_id)
    found: dict[int, list[int]] = {}
    for by_markets in groups.values():
        for own, members in by_markets.items():
            shared: dict[int, int] = {}
            for other, ids in by_markets.items():
                if own and not own & other:
                    continue  # a report with markets is related only to reports sharing one
                for report_id in ids[: count + 1]:
                    shared[report_id] = len(own & other)
            ranked = sorted(shared, key=lambda r: (-shared[r], order[r]))
            for report_id in members:
                found[report_id] = [r for r in ranked if r != report_id][:count]
    return found


def also_requested(reports: dict[int, dict], count: int) -> dict[int, list[int]]:
    """Per report, up to `count` public reports most people also asked about (at least
    RELATED_MIN_PAIRS of them), most people first, then newest."""
    minimum = max(1, settings.RELATED_MIN_PAIRS)
    people: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for source in _co_interest_sources:
        for report_id, other_id, together in source(minimum):
            if report_id in reports and other_id in reports and together >= minimum:
                people[report_id][other_id] += together
    order = {report_id: position for position, report_id in enumerate(reports)}
    return {
        report_id: sorted(others, key=lambda o: (-others[o], order[o]))[:count]
        for report_id, others in people.items()
    }


def related_reports_refresh() -> int:
    """Compute both lists for every public report and store the ones that changed; rows of
    reports no longer public are deleted. Cached pages are invalidated when anything
    changed. Returns how many rows were written."""
    count = settings.RELATED_REPORTS_COUNT
    reports = _public_reports()
    cards = _cards(reports)
    similar = similar_reports(reports, count)
    requested = also_requested(reports, count)
    stored = {row.pk: (row.similar, row.also_requested) for row in RelatedReports.objects.all()}
    now = timezone.now()
    changed = []
    for report_id in reports:
        lists = (cards(similar.get(report_id, [])), cards(requested.get(report_id, [])))
        if stored.get(report_id) != lists:
            changed.append(
                RelatedReports(
                    report_id=report_id, similar=lists[0], also_requested=lists[1], computed_at=now
                )
            )
    gone = [report_id for report_id in stored if report_id not in reports]
    with transaction.atomic():
        RelatedReports.objects.bulk_create(
            changed,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["report"],
            update_fields=["similar", "also_requested", "computed_at"],
        )
        RelatedReports.objects.filter(pk__in=gone).delete()
        if changed or gone:
            page_cache_invalidate()
    logger.info("related reports: %s written, %s deleted", len(changed), len(gone))
    return len(changed)

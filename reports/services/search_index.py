"""Writes that keep search right: a report's key-player names and its details (segments,
regions, FAQ) on the report row (the search document reads them from there) and the
vocabulary typos are matched against."""

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

from common.breaker import cache_call
from common.pagecache import page_cache_invalidate

from ..models import Report, SearchTerm
from ..search import GENERATION_KEY
from ..search.text import vocabulary_words


def key_player_names(names: Iterable[str]) -> str:
    return "\n".join(names)


def search_details(
    *, segments: Iterable[str], regions: Iterable[str], questions: Iterable[tuple[str, str]]
) -> str:
    """What search reads of a report's parts besides its key players: the segments' and
    regions' names (sorted: the same text however the parts were read), then each FAQ's
    question and answer, a line each."""
    lines = [*sorted(set(segments)), *sorted(set(regions))]
    for question, answer in questions:
        lines += [question, answer]
    return "\n".join(line.strip() for line in lines if line.strip())


def search_terms_add(*, words: Iterable[str]) -> None:
    """Add words to the vocabulary (existing ones are left alone). Words of reports since
    deleted stay: they then match nothing, and suggestions are checked against results."""
    new = sorted(set(words))
    if new:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=word) for word in new], ignore_conflicts=True, batch_size=1000
        )


def report_search_refresh(*, report: Report) -> None:
    """After the report or its parts changed (admin save): store the players' names and the
    details on the report and add their words to the vocabulary."""
    names = key_player_names(
        report.key_players.order_by("position", "pk").values_list("name", flat=True)
    )
    segments = list(
        report.segments.order_by("dimension", "position", "pk").values_list("name", flat=True)
    )
    regions = list(report.regions.order_by("position", "pk").values_list("name", flat=True))
    details = search_details(
        segments=segments,
        regions=regions,
        questions=report.faqs.order_by("position", "pk").values_list("question", "answer"),
    )
    changed = {
        name: value
        for name, value in (("key_player_names", names), ("search_details", details))
        if getattr(report, name) != value
    }
    if changed:
        Report.objects.filter(pk=report.pk).update(**changed)
        for name, value in changed.items():
            setattr(report, name, value)
    search_terms_add(
        words=vocabulary_words(report.title, report.market_name, names, *segments, *regions)
    )


def catalogue_changed() -> None:
    """The one call for "the catalogue changed" (ORM saves and deletes make it through
    reports/receivers.py; bulk writes and imports make it themselves): cached anonymous pages
    are stale at once (common/pagecache.py), and once the transaction commits, cached searches
    start afresh (reports/search/)."""
    page_cache_invalidate()

    def bump():
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # not there yet
            cache.set(GENERATION_KEY, 1, None)

    # Tried even while the cache's breaker is open: other processes' searches depend on it.
    transaction.on_commit(
        lambda: cache_call(
            bump, fallback=None, purpose="cached searches expire on their own", always=True
        )
    )

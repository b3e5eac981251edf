"""Writes that keep search right: a report's key-player names on the report row (the
search document reads them from there) and the vocabulary typos are matched against."""

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


def search_terms_add(*, words: Iterable[str]) -> None:
    """Add words to the vocabulary (existing ones are left alone). Words of reports since
    deleted stay: they then match nothing, and suggestions are checked against results."""
    new = sorted(set(words))
    if new:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=word) for word in new], ignore_conflicts=True, batch_size=1000
        )


def report_search_refresh(*, report: Report) -> None:
    """After the report or its key players changed (admin save): store the players' names
    on the report and add its words to the vocabulary."""
    names = key_player_names(
        report.key_players.order_by("position", "pk").values_list("name", flat=True)
    )
    if names != report.key_player_names:
        Report.objects.filter(pk=report.pk).update(key_player_names=names)
        report.key_player_names = names
    search_terms_add(words=vocabulary_words(report.title, report.market_name, names))


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

"""The catalogue's search: `/` with `?q=` (words, typos tolerated), facets (`category`,
`region`, `type` and `application` — the segments of each dimension —, `status`, `year`; the
older `segment`, either dimension, still filters) and `page`. One selector, `catalogue_search`, serves
the browsing page too (no words: newest first).

What a search costs beyond one page of rows — the total, the facet counts, the spelling,
the ids of a page — is cached for CATALOGUE_SEARCH_CACHE_SECONDS with the catalogue's
generation it was computed under (changed by any catalogue write: `catalogue_changed`, and
the newest `updated_at` as a backstop for writes that do not call it), so a popular search
is counted once, not on every visit.

After a write, a popular search is computed again by one request, not by every request
that arrives meanwhile (`_shared`): the first takes a lock and computes; the others are
answered with the previous figures while it does (out of date for as long as the
computation takes, like a search engine's refresh interval; their pages are not stored by
the page cache), or, when there are none, wait for it (CATALOGUE_SEARCH_WAIT_SECONDS at
most, then compute themselves). One request after another always sees the catalogue as it
is: only requests that overlap a computation get the previous figures.

Computed afresh, a search stays cheap at 100,000 reports whatever the word: its first page
reads only the rows it shows (ranking.py), and its counts are exact up to
CATALOGUE_SEARCH_EXACT_COUNT matches, estimated beyond (facets.search_counts)."""

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Max, QuerySet

from common.breaker import cache_call
from common.recompute import is_recomputing, previous_served, recomputing

from ..models import Category, Report
from ..selectors import PUBLIC_STATUSES, category_list_public
from . import facets, ranking, spelling
from .matching import matching
from .ranking import LISTING_ORDER
from .text import query_words

logger = logging.getLogger(__name__)
GENERATION_KEY = "catalogue:generation"
SUMMARY_FORMAT = (
    3  # of what `_summary` returns (2: estimates marked; 3: segments by dimension, cut)
)
SHARED_POLL_SECONDS = 0.02  # how often a request waiting for another's computation looks
# The card shows these; the long texts stay in the database.
CARD_DEFERRED = (
    *(name for name in Report.LONG_TEXT_FIELDS if name != "summary"),
    "import_baseline",
    "key_player_names",
    "seo_description",
)


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    category: str = ""
    region: str = ""
    type: str = ""
    application: str = ""
    status: str = ""
    year: str = ""
    segment: str = ""

    @classmethod
    def from_query(cls, get) -> "SearchParams":
        """From request.GET; nonsense values (a status that is not public, a year that is not
        one) are dropped rather than failing."""
        value = {name: " ".join(get.get(name, "").split())[:120] for name in ("q", *facets.FILTERS)}
        value["q"] = value["q"][:100]
        if value["status"] not in PUBLIC_STATUSES:
            value["status"] = ""
        if not (value["year"].isdigit() and len(value["year"]) == 4):
            value["year"] = ""
        return cls(**value)

    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in facets.FILTERS if getattr(self, name)}

    def query_string(self, **changes) -> str:
        """`q=…&region=…` for links, with `changes` applied (a value of "" removes it)."""
        merged = {"q": self.q, **self.filters(), **changes}
        return urlencode({name: value for name, value in merged.items() if value})

    def key(self) -> str:
        # With the cached summary's format: a deploy that changes it does not read old ones.
        value = {**self.__dict__, "format": SUMMARY_FORMAT}
        return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    query: str  # the query string that chooses (or, when selected, clears) it
    estimated: bool = False  # the count is an estimate ("about")


@dataclass
class Facet:
    name: str
    title: str
    values: list[FacetValue]  # the CATALOGUE_FACET_LIMIT most frequent, and the chosen one
    more: list[FacetValue] = field(default_factory=list)  # the rest, behind "more"
    hidden: int = 0  # values beyond CATALOGUE_FACET_MORE_LIMIT: the page says to narrow


@dataclass
class SearchResult:
    params: SearchParams
    page: Page
    facets: list[Facet]
    total_estimated: bool = False  # the total is an estimate ("about 31,000 reports")
    corrected: str = ""  # "clinical trials": the words the results include besides the typed ones
    suggestion: str = ""  # "did you mean": a query that finds something when this one does not
    suggestion_query: str = ""
    category: Category | None = None  # the chosen category, when it exists
    words: list[str] = field(default_factory=list)


class _Results(Sequence):
    """What the paginator pages through: the total from the cache, a page of rows from the
    database (its ids from the cache, or from `page_ids(start, stop)`)."""

    def __init__(self, page_ids: Callable, total: int, key: str, generation: str, using: str):
        self.page_ids, self.total, self.key, self.generation = page_ids, total, key, generation
        self.using = using

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("pages only")
        ids = _shared(
            f"{self.key}:ids:{index.start}:{index.stop}",
            self.generation,
            lambda: self.page_ids(index.start, index.stop),
        )
        # The ids may be the previous generation's (see _shared): a report unpublished since
        # is left out rather than shown.
        rows = Report.objects.using(self.using).filter(pk__in=ids, status__in=PUBLIC_STATUSES)
        found = {r.pk: r for r in rows.select_related("category").defer(*CARD_DEFERRED)}
        return [found[pk] for pk in ids if pk in found]


def catalogue_search(
    params: SearchParams,
    *,
    page: str | int | None = 1,
    using: str = "default",
    generation: str | None = None,
) -> SearchResult:
    """One page of results with facets. `generation`: `catalogue_generation()`, when the
    caller has it already (it costs a query)."""
    words = query_words(params.q)
    base = Report.objects.using(using).filter(status__in=PUBLIC_STATUSES)
    generation = generation or catalogue_generation(using=using)
    key = f"catalogue-search:{params.key()}"
    summary = _shared(key, generation, lambda: _summary(base, params, words, using=using))
    groups = [spelling.WordGroup(w, tuple(alts)) for w, alts in summary["groups"]]
    facetted = _filtered(base, params, [])
    if groups:

        def page_ids(start, stop):
            return ranking.page_ids(facetted, groups, start, stop)
    else:
        listing = facetted.order_by(*LISTING_ORDER, "pk").values_list("pk", flat=True)

        def page_ids(start, stop):
            return list(listing[start:stop])

    results = _Results(page_ids, summary["total"], key, generation, using)
    paginator = Paginator(results, settings.CATALOGUE_PAGE_SIZE)
    return SearchResult(
        params=params,
        page=paginator.get_page(page),
        facets=_facets(params, summary["facets"], summary["cut"]),
        total_estimated=summary["total_estimated"],
        corrected=summary["corrected"],
        suggestion=summary["suggestion"],
        suggestion_query=(
            replace(params, q=summary["suggestion"]).query_string() if summary["suggestion"] else ""
        ),
        category=Category.objects.using(using).filter(slug=params.category).first()
        if params.category
        else None,
        words=words,
    )


def _filtered(reports: QuerySet, params: SearchParams, groups) -> QuerySet:
    if groups:
        reports = matching(reports, groups)
    for name, value in params.filters().items():
        reports = facets.facet_filter(reports, name, value)
    return reports


def _summary(base: QuerySet, params: SearchParams, words: list[str], *, using: str) -> dict:
    """Everything about a search but its rows: plain data, so it caches."""
    groups = spelling.word_groups(words, using=using) if words else []
    counted = facets.search_counts(
        matching(base, groups) if groups else base,
        params.filters(),
        limit=max(settings.CATALOGUE_FACET_MORE_LIMIT, settings.CATALOGUE_FACET_LIMIT),
    )
    total = counted.total
    counts = {
        name: [(c.value, c.label, c.count, c.estimated) for c in counted.facets[name]]
        for name in facets.FACETS
    }
    corrected = ""
    if any(group.alternatives for group in groups):
        corrected = " ".join(
            group.alternatives[0] if group.alternatives else group.word for group in groups
        )
    return {
        "groups": [(g.word, list(g.alternatives)) for g in groups],
        "total": total,
        "total_estimated": counted.total_estimated,
        "facets": counts,
        "cut": counted.cut,
        "corrected": corrected,
        "suggestion": _suggestion(base, params, words, using=using) if words and not total else "",
    }


def _suggestion(base: QuerySet, params: SearchParams, words: list[str], *, using: str) -> str:
    """A looser correction of the words, offered only if it finds something."""
    suggested = spelling.suggestion_words(words, using=using)
    if not suggested:
        return ""
    groups = [spelling.WordGroup(word) for word in suggested]
    return " ".join(suggested) if _filtered(base, params, groups).exists() else ""


def _facets(params: SearchParams, counts: dict, cut: dict) -> list[Facet]:
    """Each facet's values: the CATALOGUE_FACET_LIMIT most frequent shown, the rest behind
    "more" (a <details>: no script), the chosen value always among those shown."""
    shown = settings.CATALOGUE_FACET_LIMIT
    result = []
    for name in facets.FACETS:
        chosen = getattr(params, name)
        values = []
        for value, label, count, estimated in counts[name]:
            selected = value == chosen
            query = params.query_string(**{name: "" if selected else value})
            values.append(FacetValue(value, label, count, selected, query, estimated))
        if chosen and not any(v.selected for v in values):
            values.insert(0, FacetValue(chosen, chosen, 0, True, params.query_string(**{name: ""})))
        first, more = values[:shown], values[shown:]
        first += [v for v in more if v.selected]
        more = [v for v in more if not v.selected]
        if values:
            result.append(Facet(name, facets.TITLES[name], first, more, cut.get(name, 0)))
    return result


def category_choices(*, using: str = "default", generation: str | None = None) -> list[dict]:
    """Every category with published or upcoming reports and how many (the search form's
    list). Cached apart from searches (CATALOGUE_COUNTS_CACHE_SECONDS), under the same
    generation: it is the same beside every search, and counting the whole catalogue on
    every visit is the cost."""
    return _shared(
        "catalogue-categories",
        generation or catalogue_generation(using=using),
        lambda: [
            {"slug": c.slug, "name": c.name, "count": c.public_reports}
            for c in category_list_public(using=using)
        ],
        seconds=settings.CATALOGUE_COUNTS_CACHE_SECONDS,
    )


def catalogue_generation(*, using: str = "default") -> str:
    """Changes whenever the catalogue does: bumped by `catalogue_changed` and, as a
    backstop for writes that don't call it, the newest `updated_at` (an index lookup)."""
    bumped = _cache_get(GENERATION_KEY) or 0
    newest = Report.objects.using(using).aggregate(newest=Max("updated_at"))["newest"]
    return f"{bumped}:{newest.timestamp() if newest else 0}"


def _shared(key: str, generation: str, compute: Callable, *, seconds: int | None = None):
    """`compute()`'s value for this catalogue generation, computed once for every request
    that asks for it: from the cache when it was computed under `generation` less than
    `seconds` ago; else the request that gets the lock (common/recompute.py) computes and
    stores it, while the others are answered with the value there was (another generation's,
    or past its time; the request is marked so its page is not cached as current), or (when
    there is none) wait for the new one (CATALOGUE_SEARCH_WAIT_SECONDS at most, then compute
    it themselves). Values are kept twice their time, so that a popular search past its time
    is there to answer with."""
    seconds = settings.CATALOGUE_SEARCH_CACHE_SECONDS if seconds is None else seconds
    if seconds <= 0:
        return compute()
    entry = _cache_get(key)
    if entry is not None and _fresh(entry, generation, seconds):
        return entry[2]
    wait = settings.CATALOGUE_SEARCH_WAIT_SECONDS
    with recomputing(key, wait) as locked:
        if locked is False:
            if entry is not None:
                previous_served()
                return entry[2]  # another request is computing the new one
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                time.sleep(SHARED_POLL_SECONDS)
                entry = _cache_get(key)
                if entry is not None and _fresh(entry, generation, seconds):
                    return entry[2]
                if not is_recomputing(key):
                    # It finished: it stored the value between the read above and this
                    # check, or it failed without storing (then compute it here).
                    entry = _cache_get(key)
                    if entry is not None and _fresh(entry, generation, seconds):
                        return entry[2]
                    break
        elif locked:
            entry = _cache_get(key)  # the previous holder may have stored it meanwhile
            if entry is not None and _fresh(entry, generation, seconds):
                return entry[2]
        value = compute()
        _cache_set(key, (generation, _now(), value), seconds * 2)
    return value


def _fresh(entry: tuple, generation: str, seconds: int) -> bool:
    stored_generation, stored_at, _value = entry
    return stored_generation == generation and _now() - stored_at < seconds


def _now() -> float:
    return time.time()


def _cache_set(key: str, value, seconds: int) -> None:
    cache_call(lambda: cache.set(key, value, seconds), fallback=None, purpose="search not kept")


def _cache_get(key: str):
    """The cache only saves work: when it is unreachable (or its breaker is open: a hung
    cache is waited on once, common/breaker.py), search computes everything."""
    return cache_call(lambda: cache.get(key), fallback=None, purpose="search computed afresh")

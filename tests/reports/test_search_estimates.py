"""Search at any size (reports/search/ranking.py, facets.search_counts): the first page is
read tier by tier without ranking every match, yet is the exact ranking's; totals and facet
counts are exact up to CATALOGUE_SEARCH_EXACT_COUNT matches and estimated beyond, and only
estimates say "about"."""

import re

import pytest
from django.conf import settings as django_settings

from reports.models import Report
from reports.search import SearchParams, catalogue_search, facets, spelling
from reports.search.matching import matching
from reports.search.ranking import page_ids, ranked_exactly, tiers
from reports.search.text import query_words
from reports.selectors import PUBLIC_STATUSES
from reports.services.demo import demo_lines
from tests.reports.sqlite_search_probe import sqlite_search
from tests.reports.test_search import imported, search_lines

pytestmark = pytest.mark.django_db

# The benchmark's searches (bench/catalogue.py SEARCHES) and the search tests' words.
BENCH_SEARCHES = [
    SearchParams(q="industrial"),
    SearchParams(q="hypersonic"),
    SearchParams(q="semiconductr"),
    SearchParams(
        q="sensor", category="semiconductors-and-electronics", region="Europe", status="published"
    ),
]
TEST_SEARCHES = [
    SearchParams(q=q)
    for q in (
        "dental implant",
        "dentl implant",
        "ortodontics",
        "sonovantys",
        "aligners",
        "market",
        "sensor",
        "clinical trial",
        "robot",
        "2025",
    )
] + [SearchParams(q="market", status="upcoming"), SearchParams(q="devices", region="Europe")]
DEMO_COUNT = 400


@pytest.fixture
def catalogue(settings):
    """The demo catalogue's first reports (the benchmark's vocabulary) and the search
    tests' three; searches (and their pages) computed on every call."""
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 0
    settings.PAGE_CACHE_SECONDS = 0
    imported(*search_lines(), *demo_lines(count=DEMO_COUNT))


def public() -> "Report.objects":
    return Report.objects.filter(status__in=PUBLIC_STATUSES)


def exact_ranking(params: SearchParams) -> list[int]:
    """Every match's id in the ranking's order, computed over all of them at once."""
    groups = spelling.word_groups(query_words(params.q))
    facetted = public()
    for name, value in params.filters().items():
        facetted = facets.facet_filter(facetted, name, value)
    return list(ranked_exactly(facetted, groups).values_list("pk", flat=True))


def shown(params: SearchParams, page: int = 1) -> list[int]:
    return [r.pk for r in catalogue_search(params, page=page).page.object_list]


@pytest.mark.parametrize("page_size", [12, 5])
def test_every_page_is_the_exact_rankings_same_reports_in_the_same_order(
    catalogue, settings, page_size
):
    settings.CATALOGUE_PAGE_SIZE = page_size
    settings.CATALOGUE_SEARCH_EXACT_COUNT = 100_000  # exact totals: every page reachable
    crossed = 0  # searches whose results run over more than one tier
    for params in BENCH_SEARCHES + TEST_SEARCHES:
        exact = exact_ranking(params)
        assert exact, f"{params} finds nothing: the comparison would prove nothing"
        assert shown(params) == exact[:page_size], params
        pages = -(-len(exact) // page_size)
        assert [pk for n in range(1, pages + 1) for pk in shown(params, n)] == exact, params
        groups = spelling.word_groups(query_words(params.q))
        crossed += sum(1 for tier in tiers(public(), groups) if tier.exists()) > 1
    assert crossed >= 3


def test_a_page_read_tier_by_tier_skips_whole_tiers_before_it(catalogue):
    """Pages far into the results (past the title tier, past the key players') are still
    the exact ranking's."""
    groups = spelling.word_groups(["industrial"])  # in titles, key players and summaries
    exact = list(ranked_exactly(public(), groups).values_list("pk", flat=True))
    title, players, _rest = (tier.count() for tier in tiers(public(), groups))
    assert title and players and title + players < len(exact)
    edges = (title, title + players)
    for start in (0, *(e - 3 for e in edges), *edges, *(e + 7 for e in edges), len(exact) - 2):
        assert page_ids(public(), groups, start, start + 5) == exact[start : start + 5], start
    assert page_ids(public(), groups, len(exact), len(exact) + 5) == []


def test_a_title_match_ranks_above_a_key_player_match_above_a_summary_match(settings):
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 0
    lines = search_lines()
    lines[0]["report"]["summary"] += " Sonovantis is mentioned here too."
    lines[1]["report"]["title"] = "Sonovantis Hearing Market, 2025–2030"
    imported(*lines)
    result = catalogue_search(SearchParams(q="sonovantis"))
    assert [r.number for r in result.page.object_list] == [4000002, 4000003, 4000001]


def true_counts(params: SearchParams) -> tuple[int, dict[str, dict[str, int]]]:
    """The total, and every facet value's count (the other facets' filters applied),
    counted report by report in Python."""
    groups = spelling.word_groups(query_words(params.q))
    matched = list(
        matching(public(), groups)
        .select_related("category")
        .prefetch_related("regions", "segments")
    )

    def values(report, name):
        if name == "category":
            return {report.category.slug}
        if name == "status":
            return {report.status}
        if name == "year":
            return {str(report.edition_date.year)}
        if name == "region":
            return {row.name for row in report.regions.all()}
        # type, application: that dimension's segments; segment (older links): either.
        return {s.name for s in report.segments.all() if name in ("segment", s.dimension)}

    filters = params.filters()

    def passes(report, skip=""):
        return all(v in values(report, n) for n, v in filters.items() if n != skip)

    total = sum(1 for r in matched if passes(r))
    counts = {}
    for name in facets.FACETS:
        counts[name] = {}
        for report in matched:
            if passes(report, skip=name):
                for value in values(report, name):
                    counts[name][value] = counts[name].get(value, 0) + 1
    return total, counts


def test_counts_are_exact_up_to_the_threshold_and_say_about_only_beyond(
    catalogue, settings, client
):
    settings.CATALOGUE_FACET_LIMIT = 100
    params = SearchParams(q="market", region="Europe")
    total, counts = true_counts(params)
    matches = (
        sum(counts["region"].values())
        and public().filter(pk__in=matching(public(), spelling.word_groups(["market"]))).count()
    )
    assert total > 30 and matches > 300

    # Threshold at the number of matches: everything counted, nothing says "about".
    settings.CATALOGUE_SEARCH_EXACT_COUNT = matches
    result = catalogue_search(params)
    assert result.page.paginator.count == total and not result.total_estimated
    for facet in result.facets:
        for item in facet.values:
            assert not item.estimated and item.count == counts[facet.name][item.value], item
    html = client.get("/", {"q": "market", "region": "Europe"}).content.decode()
    results = html.split("<footer", 1)[0].lower()  # the footer links the About page
    assert f"{total} reports matching" in html and "about" not in results.replace("about us", "")

    # One less: the facets are estimated from a sample and say so; the total is still
    # counted, the filter leaving fewer than the threshold.
    settings.CATALOGUE_SEARCH_EXACT_COUNT = matches - 1
    settings.CATALOGUE_SEARCH_SAMPLE_SIZE = 150
    result = catalogue_search(params)
    assert result.page.paginator.count == total and not result.total_estimated
    values = [item for facet in result.facets for item in facet.values if not item.selected]
    assert values and all(item.estimated for item in values)
    # A sample of 150: each status's estimate near its count (both are hundreds or tens).
    statuses = {
        item.value: item.count for f in result.facets if f.name == "status" for item in f.values
    }
    assert statuses.keys() == counts["status"].keys()
    for status, count in counts["status"].items():
        assert count * 0.5 <= statuses[status] <= count * 2, (status, statuses, counts["status"])

    # The total beyond the threshold too: "about", and more than the threshold.
    settings.CATALOGUE_SEARCH_EXACT_COUNT = total - 1
    result = catalogue_search(params)
    assert result.total_estimated and result.page.paginator.count >= total
    assert total * 0.5 <= result.page.paginator.count <= total * 1.6
    html = client.get("/", {"q": "market", "region": "Europe"}).content.decode()
    assert re.search(r"About [\d,]+ reports matching", html)
    assert re.search(r'class="facet-count">about [\d,]+<', html)
    # The first page is the exact ranking's, whatever the counts.
    assert shown(params) == exact_ranking(params)[: django_settings.CATALOGUE_PAGE_SIZE]


def test_a_search_with_fewer_matches_than_the_threshold_is_counted_exactly(catalogue, settings):
    settings.CATALOGUE_SEARCH_EXACT_COUNT = 1000
    settings.CATALOGUE_FACET_LIMIT = 100
    for params in BENCH_SEARCHES + TEST_SEARCHES:
        total, counts = true_counts(params)
        result = catalogue_search(params)
        assert (result.page.paginator.count, result.total_estimated) == (total, False), params
        for facet in result.facets:
            for item in facet.values:
                assert not item.estimated
                assert item.count == counts[facet.name].get(item.value, 0), (params, item)


def test_an_estimate_is_the_same_on_every_request(catalogue, settings):
    settings.CATALOGUE_SEARCH_EXACT_COUNT = 20
    settings.CATALOGUE_SEARCH_SAMPLE_SIZE = 10  # half the matches past the threshold
    first = catalogue_search(SearchParams(q="market"))
    again = catalogue_search(SearchParams(q="market"))
    assert first.total_estimated and first.page.paginator.count > 20
    assert first.page.paginator.count == again.page.paginator.count
    assert [[i.count for i in f.values] for f in first.facets] == [
        [i.count for i in f.values] for f in again.facets
    ]


# --- SQLite (make run) ------------------------------------------------------------------------


def test_sqlite_ranks_and_counts_the_same_way(tmp_path, settings):
    """The embedded default in a child process: the same tiers give the same first pages as
    PostgreSQL; counts exact up to the threshold, "about" beyond (a low threshold here)."""
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 0
    lines = [*search_lines(), *demo_lines(count=150)]
    queries = ["dental implant", "sonovantys", "market", "sensor", "industrial", "semiconductr"]
    on_sqlite = sqlite_search(
        tmp_path,
        lines,
        queries,
        CATALOGUE_SEARCH_EXACT_COUNT="40",
        CATALOGUE_SEARCH_SAMPLE_SIZE="30",
    )

    imported(*lines)
    estimated = exact = 0
    for query in queries:
        result = catalogue_search(SearchParams(q=query))
        assert on_sqlite[query]["numbers"] == [r.number for r in result.page.object_list], query
        true = matching(public(), spelling.word_groups(query_words(query))).count()
        sqlite = on_sqlite[query]
        if true <= 40:
            exact += 1
            assert (sqlite["total"], sqlite["estimated"]) == (true, False), query
            assert not any(sqlite["facets_estimated"]), query
        else:
            estimated += 1
            assert sqlite["estimated"] and sqlite["total"] > 40, query
            assert true * 0.4 <= sqlite["total"] <= true * 2.5, query
            assert sqlite["facets_estimated"] and all(sqlite["facets_estimated"]), query
    assert exact and estimated

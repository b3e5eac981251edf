"""The catalogue's search at `/?q=…`: full-text with ranking, typo tolerance on PostgreSQL and
on the embedded SQLite default, facets whose counts follow the search, "did you mean",
linkable pages, and the canonical/noindex rules."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.models import Report, Segment
from reports.search import SearchParams, catalogue_search, category_choices
from reports.services.imports import Record, reports_import
from reports.services.search_index import catalogue_changed
from tests.factories import (
    CategoryFactory,
    RegionFactory,
    ReportFactory,
    SegmentFactory,
)
from tests.reports.sqlite_search_probe import sqlite_search
from tests.reports.test_import import line

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8000"


def imported(*lines) -> None:
    """Reports written the way every report is (the importer keeps the search fields)."""
    summary = reports_import(records=[Record(line=i + 1, data=d) for i, d in enumerate(lines)])
    assert summary.failed == 0


def numbers(query: str, **filters) -> list[int]:
    result = catalogue_search(SearchParams(q=query, **filters))
    return [report.number for report in result.page.object_list]


def search_lines() -> list[dict]:
    """Three reports: "Dental Implant" in one's title, in another's summary only, and a third
    known by its key player."""
    title = line(4000001, title="Dental Implant Market, 2025–2030", market_name="Dental Implant")
    summary = line(
        4000002,
        title="Orthodontics Market, 2025–2030",
        market_name="Orthodontics",
        summary="Braces and aligners; dental implant makers are moving into this market.",
    )
    player = line(4000003, title="Hearing Aid Market, 2025–2030", market_name="Hearing Aid")
    player["key_players"][0]["name"] = "Sonovantis Audiology"
    return [title, summary, player]


# --- Matching and ranking (PostgreSQL) --------------------------------------------------------


def test_a_title_match_ranks_above_a_summary_match():
    imported(*search_lines())
    assert numbers("dental implant") == [4000001, 4000002]


def test_words_are_stemmed_and_stop_words_ignored():
    imported(*search_lines())
    assert numbers("implants for the dentist") == []  # "dentist" is not "dental"
    assert numbers("the dental implants") == [4000001, 4000002]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("dentl implant", [4000001, 4000002]),  # a letter missing (title word)
        ("dental implnat", [4000001, 4000002]),  # two letters swapped
        ("ortodontics", [4000002]),  # market name
        ("sonovantys", [4000003]),  # a key player, one letter wrong
    ],
)
def test_a_one_letter_typo_still_finds_the_report(typed, expected):
    imported(*search_lines())
    result = catalogue_search(SearchParams(q=typed))
    assert [r.number for r in result.page.object_list] == expected
    assert result.corrected  # the page says what it searched for instead


def test_did_you_mean_when_nothing_matches():
    imported(*search_lines())
    result = catalogue_search(SearchParams(q="dintel implant"))  # two letters off
    assert result.page.paginator.count == 0
    assert result.suggestion == "dental implant"
    assert catalogue_search(SearchParams(q=result.suggestion)).page.paginator.count == 2


def test_search_sees_an_import_at_once_despite_its_cache():
    imported(*search_lines())
    assert numbers("aligners") == [4000002]
    imported(line(4000004, title="Clear Aligners Market, 2025–2030", market_name="Aligners"))
    assert numbers("aligners") == [4000004, 4000002]


# --- The same words on SQLite (make run) ------------------------------------------------------


def test_sqlite_finds_the_same_reports_typos_included(tmp_path):
    """The embedded default, in a child process: migrations run on SQLite, the import fills
    its FTS5 index, and the same words and typos find the same reports as PostgreSQL."""
    lines = search_lines()
    queries = [
        "dental implant",
        "dentl implant",
        "dental implnat",
        "ortodontics",
        "sonovantys",
        "aligners",
        "dintel implant",
    ]
    on_sqlite = sqlite_search(tmp_path, lines, queries)

    imported(*lines)
    for query in queries:
        result = catalogue_search(SearchParams(q=query))
        on_postgres = {
            "numbers": [r.number for r in result.page.object_list],
            "corrected": result.corrected,
            "suggestion": result.suggestion,
        }
        assert {key: on_sqlite[query][key] for key in on_postgres} == on_postgres, query
    assert on_sqlite["dentl implant"]["numbers"] == [4000001, 4000002]
    assert on_sqlite["sonovantys"]["numbers"] == [4000003]


# --- Facets -----------------------------------------------------------------------------------


def faceted_catalogue():
    devices = CategoryFactory(name="Medical Devices", slug="medical-devices")
    services = CategoryFactory(name="Healthcare Services", slug="healthcare-services")
    rows = [
        (devices, "published", 2024, ["Europe", "North America"], ["Disposable"]),
        (devices, "published", 2025, ["Europe"], ["Disposable", "Reusable"]),
        (devices, "upcoming", 2025, ["Asia-Pacific"], ["Reusable"]),
        (services, "published", 2025, ["Europe"], ["Outpatient"]),
        (services, "draft", 2025, ["Europe"], ["Outpatient"]),  # never counted
    ]
    for i, (category, status, year, regions, segments) in enumerate(rows):
        report = ReportFactory(
            title=f"Pump Market {i}",
            category=category,
            status=status,
            edition_date=date(year, 6, 1),
        )
        for name in regions:
            RegionFactory(report=report, name=name, share_percent=Decimal("10"))
        for name in segments:
            SegmentFactory(report=report, name=name)


def test_every_facet_count_equals_the_rows_its_link_shows(client):
    faceted_catalogue()
    page = client.get("/", {"q": "pump"})
    assert page.context["page"].paginator.count == 4
    facets = {f.name: f for f in page.context["result"].facets}
    assert set(facets) == {"category", "region", "type", "status", "year"}
    checked = 0
    for facet in facets.values():
        for value in facet.values:
            chosen = client.get("/?" + value.query)
            assert chosen.context["page"].paginator.count == value.count, (facet.name, value)
            checked += 1
    assert checked == 2 + 3 + 3 + 2 + 2
    counts = {v.label: v.count for v in facets["region"].values}
    assert counts == {"Europe": 3, "North America": 1, "Asia-Pacific": 1}
    assert {v.label: v.count for v in facets["status"].values} == {"Published": 3, "Upcoming": 1}


def test_facet_counts_follow_the_search_and_the_other_facets():
    faceted_catalogue()
    result = catalogue_search(SearchParams(q="pump", category="medical-devices"))
    facets = {f.name: {v.value: v.count for v in f.values} for f in result.facets}
    assert facets["region"] == {"Europe": 2, "North America": 1, "Asia-Pacific": 1}
    assert facets["year"] == {"2025": 2, "2024": 1}
    # Its own facet is counted without its own filter: the other categories stay choosable.
    assert facets["category"] == {"medical-devices": 3, "healthcare-services": 1}


def test_a_segment_named_under_both_dimensions_counts_its_report_once(client):
    """ "Others" is a common name under both segment dimensions; each facet counts reports."""
    faceted_catalogue()
    report = Report.objects.get(title="Pump Market 0")
    SegmentFactory(report=report, name="Others", dimension=Segment.Dimension.TYPE)
    SegmentFactory(report=report, name="Others", dimension=Segment.Dimension.APPLICATION)

    result = catalogue_search(SearchParams(q="pump"))

    for name in ("type", "application"):
        segments = next(f for f in result.facets if f.name == name)
        others = next(v for v in segments.values if v.value == "Others")
        assert others.count == 1
        assert client.get("/?" + others.query).context["page"].paginator.count == 1


def test_the_category_list_is_counted_once_per_catalogue_change_even_with_searches_uncached(
    settings, django_capture_on_commit_callbacks
):
    """Its counts span the whole catalogue and are the same beside every search: they stay
    cached (CATALOGUE_COUNTS_CACHE_SECONDS) when searches are not, until the catalogue changes."""
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 0
    faceted_catalogue()

    def counted() -> tuple[dict, int]:
        with CaptureQueriesContext(connection) as queries:
            choices = {c["slug"]: c["count"] for c in category_choices()}
        return choices, sum('COUNT(*) AS "reports"' in q["sql"] for q in queries.captured_queries)

    assert counted() == ({"medical-devices": 3, "healthcare-services": 1}, 1)
    assert counted() == ({"medical-devices": 3, "healthcare-services": 1}, 0)
    with django_capture_on_commit_callbacks(execute=True):
        ReportFactory(category=CategoryFactory(name="Diagnostics", slug="diagnostics"))
    assert counted() == ({"medical-devices": 3, "healthcare-services": 1, "diagnostics": 1}, 1)
    settings.CATALOGUE_COUNTS_CACHE_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_changed()
    assert counted()[1] == 1 and counted()[1] == 1  # 0: never kept


# --- Pages, links, robots -----------------------------------------------------------------


def test_result_pages_are_links_that_keep_the_search_and_its_facets(client, settings):
    settings.CATALOGUE_PAGE_SIZE = 2
    for i in range(5):
        report = ReportFactory(title=f"Valve Market {i}")
        RegionFactory(report=report, name="Europe")
    first = client.get("/", {"q": "valve", "region": "Europe"})
    assert 'href="?q=valve&amp;region=Europe&amp;page=2"' in first.content.decode()
    second = client.get("/", {"q": "valve", "region": "Europe", "page": "2"})
    assert len(second.context["reports"]) == 2
    numbers = [r.number for r in second.context["reports"]]
    assert numbers != [r.number for r in first.context["reports"]]


def test_searches_and_facets_are_noindex_and_point_to_the_page_they_narrow(client):
    faceted_catalogue()
    for params in ({"q": "pump"}, {"region": "Europe"}, {"year": "2025"}, {"status": "upcoming"}):
        html = client.get("/", params).content.decode()
        assert '<meta name="robots" content="noindex, follow">' in html, params
        assert f'<link rel="canonical" href="{SITE}/">' in html
    narrowed = client.get("/", {"category": "medical-devices", "region": "Europe"})
    html = narrowed.content.decode()
    assert '<meta name="robots" content="noindex, follow">' in html
    assert f'<link rel="canonical" href="{SITE}/?category=medical-devices">' in html
    category = client.get("/", {"category": "medical-devices"}).content.decode()
    assert 'name="robots"' not in category
    assert re.search(
        r'<a href="\?category=medical-devices&amp;region=Europe" rel="nofollow">', category
    )


def test_the_catalogue_works_without_javascript(client):
    faceted_catalogue()
    html = client.get(reverse("reports:catalogue"), {"q": "pump"}).content.decode()
    catalogue = html[html.index('<div class="catalogue-hero">') :]
    assert "<script" not in catalogue.split("</main>")[0]  # no script in the page's content
    assert '<form class="catalogue-search" method="get"' in html
    assert 'href="?q=pump&amp;region=Europe"' in html  # facets are plain links


def test_nonsense_parameters_are_ignored_not_errors(client):
    faceted_catalogue()
    response = client.get("/", {"status": "draft", "year": "twenty", "page": "x", "q": "(("})
    assert response.status_code == 200
    assert response.context["result"].params.status == ""
    assert Report.objects.filter(status="draft").exists()
    assert "Pump Market 4" not in response.content.decode()  # drafts never show

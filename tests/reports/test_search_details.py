"""Search finds what the report page shows — segments, regions, the FAQ — on PostgreSQL and on
the embedded SQLite; segments are faceted per dimension (trial phases apart from therapeutic
areas); and a facet keeps every value, past the first few behind a "more" that needs no script."""

import re

import pytest

from reports.models import Report
from reports.search import SearchParams, catalogue_search
from reports.services.search_index import report_search_refresh
from tests.factories import RegionFactory, ReportFactory, SegmentFactory
from tests.reports.sqlite_search_probe import sqlite_search
from tests.reports.test_import import line
from tests.reports.test_search import imported, numbers

pytestmark = pytest.mark.django_db


def detail_lines() -> list[dict]:
    """Two copies of the seed report under other titles: the first keeps its Oncology
    segment, the second has Haematology instead and an FAQ answer naming a product."""
    oncology = line(4000021, title="Site Network Market, 2025–2032", market_name="Site Network")
    haematology = line(4000022, title="Trial Staffing Market, 2025–2032", market_name="Staffing")
    for segment in haematology["segments"]["application"]:
        if segment["name"] == "Oncology":
            segment["name"] = "Haematology"
    haematology["faqs"][0]["answer"] += " Kestrelpoint's platform is profiled too."
    return [oncology, haematology]


def test_segment_names_and_the_faq_find_imported_reports():
    imported(*detail_lines())
    assert numbers("oncology") == [4000021]
    assert numbers("haematology") == [4000022]
    assert numbers("kestrelpoint") == [4000022]  # in an FAQ answer only
    assert sorted(numbers("respiratory diseases")) == [4000021, 4000022]  # both have it
    assert numbers("haematolgy") == [4000022]  # segment names are in the typo vocabulary


def test_reimporting_the_same_lines_changes_nothing():
    imported(*detail_lines())
    again = [Report.objects.get(number=n).search_details for n in (4000021, 4000022)]
    from reports.services.imports import Record, reports_import

    summary = reports_import(
        records=[Record(line=i + 1, data=d) for i, d in enumerate(detail_lines())]
    )
    assert (summary.unchanged, summary.updated) == (2, 0)
    assert [Report.objects.get(number=n).search_details for n in (4000021, 4000022)] == again


def test_a_changed_segment_is_searched_after_a_reimport():
    first, second = detail_lines()
    imported(first, second)
    for segment in first["segments"]["application"]:
        if segment["name"] == "Oncology":
            segment["name"] = "Dermatology"
    imported(first)
    assert numbers("oncology") == []
    assert numbers("dermatology") == [4000021]


def test_a_region_added_by_staff_is_found_once_the_report_is_saved():
    """The admin's save calls report_search_refresh (reports/admin/catalogue.py)."""
    report = ReportFactory(title="Widget Market", status=Report.Status.PUBLISHED)
    RegionFactory(report=report, name="Nordics")
    report.refresh_from_db()
    assert report.search_details == ""  # not saved through the admin yet
    report_search_refresh(report=report)
    assert Report.objects.get(pk=report.pk).search_details == "Nordics"
    assert numbers("nordics") == [report.number]
    assert numbers("nordcs") == [report.number]


def test_sqlite_finds_the_same_reports_by_their_details(tmp_path):
    lines = detail_lines()
    queries = ["oncology", "haematology", "kestrelpoint", "haematolgy"]
    on_sqlite = sqlite_search(tmp_path, lines, queries)
    imported(*lines)
    for query in queries:
        assert on_sqlite[query]["numbers"] == numbers(query), query
    assert on_sqlite["oncology"]["numbers"] == [4000021]
    assert on_sqlite["kestrelpoint"]["numbers"] == [4000022]


# --- Facets -----------------------------------------------------------------------------------


def test_phases_and_therapeutic_areas_are_separate_facets(client, seed_report):
    """The seed report's segments are by type (Phase I–IV) and by application (therapeutic
    areas): two facets, each with every value (the single Segment facet was cut at ten,
    losing Phase IV and Respiratory Diseases)."""
    result = catalogue_search(SearchParams(q="oncology"))
    assert [r.number for r in result.page.object_list] == [1780960]
    facets = {f.name: f for f in result.facets}
    by_type = [v.label for v in facets["type"].values + facets["type"].more]
    by_application = [v.label for v in facets["application"].values + facets["application"].more]
    assert sorted(by_type) == ["Phase I", "Phase II", "Phase III", "Phase IV"]
    stored = set(
        seed_report.segments.filter(dimension="application").values_list("name", flat=True)
    )
    assert set(by_application) == stored and "Respiratory Diseases" in stored
    assert not set(by_type) & set(by_application)

    page = client.get("/", {"q": "oncology"})
    html = page.content.decode()
    assert "Segment by type" in html and "Segment by application" in html
    chosen = next(v for v in facets["application"].values if v.value == "Respiratory Diseases")
    assert client.get("/?" + chosen.query).context["page"].paginator.count == 1
    # A link of the older ?segment= (either dimension) still filters.
    assert client.get("/", {"segment": "Phase IV"}).context["page"].paginator.count == 1
    assert client.get("/", {"segment": "Phase V"}).context["page"].paginator.count == 0


def regions_catalogue(count: int) -> list[str]:
    """`count` reports, each in one region of its own, the first region in the most."""
    names = [f"Region {chr(65 + i)}" for i in range(count)]
    for i, name in enumerate(names):
        for _ in range(1 if i else 2):
            RegionFactory(report=ReportFactory(status=Report.Status.PUBLISHED), name=name)
    return names


def test_a_facet_keeps_its_values_past_the_limit_behind_more(client, settings):
    settings.CATALOGUE_FACET_LIMIT = 10
    names = regions_catalogue(13)
    page = client.get("/")
    region = next(f for f in page.context["result"].facets if f.name == "region")
    assert [v.label for v in region.values][0] == "Region A"
    assert len(region.values) == 10 and len(region.more) == 3 and region.hidden == 0
    assert {v.label for v in region.values + region.more} == set(names)
    html = page.content.decode()
    details = re.search(r"<details class=\"facet-more\">.*?</details>", html, re.S).group(0)
    assert "<summary>3 more</summary>" in details
    for value in region.more:
        assert f'href="?{value.query}"' in details.replace("&amp;", "&")

    # Chosen from behind "more": listed among the first, and the filter works.
    last = region.more[-1]
    chosen = client.get("/?" + last.query)
    region = next(f for f in chosen.context["result"].facets if f.name == "region")
    assert any(v.selected and v.label == last.label for v in region.values)
    assert all(not v.selected for v in region.more)
    assert chosen.context["page"].paginator.count == 1


def test_past_the_more_limit_the_page_asks_to_narrow(client, settings):
    settings.CATALOGUE_FACET_LIMIT = 4
    settings.CATALOGUE_FACET_MORE_LIMIT = 6
    regions_catalogue(9)
    page = client.get("/")
    region = next(f for f in page.context["result"].facets if f.name == "region")
    assert (len(region.values), len(region.more), region.hidden) == (4, 2, 3)
    assert "and 3 more: add words to the search" in page.content.decode()


def test_a_segment_facet_counts_reports_per_dimension():
    report = ReportFactory(title="Pump Market", status=Report.Status.PUBLISHED)
    SegmentFactory(report=report, name="Others", dimension="type")
    SegmentFactory(report=report, name="Others", dimension="application")
    SegmentFactory(report=ReportFactory(title="Pump Two", status="published"), name="Others")
    result = catalogue_search(SearchParams(q="pump"))
    facets = {f.name: {v.value: v.count for v in f.values} for f in result.facets}
    assert facets["type"] == {"Others": 2}
    assert facets["application"] == {"Others": 1}
    assert catalogue_search(SearchParams(q="pump", application="Others")).page.paginator.count == 1
    assert catalogue_search(SearchParams(q="pump", segment="Others")).page.paginator.count == 2

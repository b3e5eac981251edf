"""The catalogue and the report page through the test client, on the loaded seed report."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.models import Licence, Report
from tests.factories import (
    CategoryFactory,
    FrequentQuestionFactory,
    KeyPlayerFactory,
    LicenceFactory,
    MarketDynamicFactory,
    RegionCountryFactory,
    RegionFactory,
    ReportFactory,
    SegmentFactory,
    TocEntryFactory,
)
from tests.reports.conftest import SEED_URL

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    """The page's visible text with tags removed and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- Catalogue ---------------------------------------------------------------------------


def test_catalogue_lists_published_and_upcoming_reports_but_not_drafts(client):
    ReportFactory(title="Published Widgets Market")
    ReportFactory(title="Upcoming Gadgets Market", status=Report.Status.UPCOMING)
    ReportFactory(title="Draft Gizmos Market", status=Report.Status.DRAFT)
    text = text_of(client.get("/"))
    assert "Published Widgets Market" in text
    assert "Upcoming Gadgets Market" in text and "Upcoming" in text
    assert "Draft Gizmos Market" not in text
    assert "2 reports" in text


def test_catalogue_search_matches_titles(client, seed_report):
    ReportFactory(title="Dental Implants Market, 2025–2030")
    text = text_of(client.get("/", {"q": "site management"}))
    assert seed_report.title in text
    assert "Dental Implants" not in text
    assert "1 report matching “site management”" in text


def test_catalogue_search_without_match_says_so(client, seed_report):
    text = text_of(client.get("/", {"q": "zebra crossings"}))
    assert "No reports match your search" in text
    assert seed_report.title not in text


def test_catalogue_filters_by_category(client, seed_report):
    devices = CategoryFactory(name="Medical Devices", slug="medical-devices")
    ReportFactory(title="Infusion Pumps Market", category=devices)
    response = client.get("/", {"category": "medical-devices"})
    text = text_of(response)
    assert "Infusion Pumps Market" in text and seed_report.title not in text
    assert 'value="medical-devices" selected' in response.content.decode()


def test_catalogue_paginates_and_keeps_the_search_in_page_links(client, settings):
    settings.CATALOGUE_PAGE_SIZE = 2
    for n in range(5):
        ReportFactory(title=f"Widgets Market {n}")
    first = client.get("/", {"q": "widgets"})
    assert len(first.context["reports"]) == 2
    assert 'href="?q=widgets&amp;page=2"' in first.content.decode()
    last = client.get("/", {"q": "widgets", "page": "3"})
    assert len(last.context["reports"]) == 1
    # Nonsense page numbers fall back to a real page instead of failing.
    assert client.get("/", {"page": "999"}).context["page"].number == 3
    assert client.get("/", {"page": "x"}).context["page"].number == 1


def test_catalogue_links_each_report_and_its_sample(client, seed_report):
    html = client.get("/").content.decode()
    assert f'href="{SEED_URL}"' in html
    assert 'href="/enquiry/request-sample/1780960"' in html


# --- Report page -------------------------------------------------------------------------


def test_report_page_is_served_at_the_publishers_url(client, seed_report):
    assert seed_report.get_absolute_url() == SEED_URL
    response = client.get(SEED_URL)
    assert response.status_code == 200
    assert response.templates[0].name == "reports/report_detail.html"


def test_report_page_shows_the_key_metrics_header(client, seed_report):
    html = client.get(SEED_URL).content.decode()
    header = html[html.index('id="key-metrics"') : html.index('id="overview"')]
    header_text = " ".join(re.sub(r"<[^>]+>", " ", header).split())
    assert "CAGR 13.7%" in header_text
    assert "Forecast period 2025–2032" in header_text
    assert "Largest region North America About 40% of the market" in header_text
    assert "Major players Clinedge, WCG, ClinChoice, Access Clinical Research" in header_text


def test_report_page_shows_texts_dynamics_and_segments(client, seed_report):
    text = text_of(client.get(SEED_URL))
    assert "Site management organizations (SMOs) run the day-to-day work" in text
    assert "A site management organization takes on the operational load" in text  # analysis
    assert "Trials are becoming decentralised" in text  # latest trends
    for heading in ("Drivers", "Trends", "Opportunities", "Challenges"):
        assert heading in text
    assert "AI in recruitment and site selection." in text
    assert "Phase III Large studies, often with thousands of participants" in text
    assert "Oncology Investigations of cancer therapies" in text


def test_report_page_draws_regional_shares_and_names_countries(client, seed_report):
    html = client.get(SEED_URL).content.decode()
    chart = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert [t for t in re.findall(r">([^<>]+)</text>", chart)] == [
        "North America",
        "40%",
        "Europe",
        "30%",
        "Asia-Pacific",
        "20%",
    ]
    text = text_of(client.get(SEED_URL))
    assert "Mexico, Brazil, Argentina, Colombia" in text
    assert "Saudi Arabia" in text and "United Arab Emirates" in text


def test_report_page_shows_key_players_with_their_facts(client, seed_report):
    text = text_of(client.get(SEED_URL))
    assert "WCG One of the leaders in clinical trial services" in text
    assert "Revenue reported at over USD 500 million." in text
    assert "Annual growth of more than 20%, as reported." in text


def test_report_page_shows_contents_faq_and_licence_prices(client, seed_report):
    text = text_of(client.get(SEED_URL))
    assert "Executive Summary Key findings and market metrics" in text
    assert "How fast is the clinical trials SMO market growing?" in text
    assert "Single user USD 3,900 1 user" in text
    assert "Multi-user USD 5,900 Up to 5 users" in text
    assert "Enterprise USD 7,900 Unlimited users" in text
    assert "From USD 3,900" in text


def test_licence_prices_come_from_the_licence_rows(client, seed_report):
    Licence.objects.filter(report=seed_report, kind="single").update(price=Decimal("4250"))
    Licence.objects.filter(report=seed_report, kind="enterprise").update(is_active=False)
    text = text_of(client.get(SEED_URL))
    assert "Single user USD 4,250" in text and "From USD 4,250" in text
    assert "USD 7,900" not in text and "Enterprise" not in text


def test_report_page_links_the_three_calls_to_action(client, seed_report):
    html = client.get(SEED_URL).content.decode()
    sample = reverse("enquiries:request-sample", args=[1780960])
    enquiry = reverse("enquiries:pre-order-enquiry", args=[1780960])
    purchase = reverse("orders:purchase", args=[1780960])
    assert (sample, enquiry, purchase) == (
        "/enquiry/request-sample/1780960",
        "/enquiry/pre-order-enquiry/1780960",
        "/purchase/1780960",
    )
    assert f'data-cta="sample" href="{sample}"' in html
    assert f'data-cta="enquiry" href="{enquiry}"' in html
    assert f'data-cta="buy" href="{purchase}"' in html


def test_upcoming_report_offers_a_sample_and_an_enquiry_but_no_purchase(client):
    report = ReportFactory(status=Report.Status.UPCOMING, published_at=None)
    LicenceFactory(report=report)
    response = client.get(report.get_absolute_url())
    html, text = response.content.decode(), text_of(response)
    assert "Upcoming" in text and "This report is upcoming" in text
    assert f'href="/enquiry/request-sample/{report.number}"' in html
    assert f'href="/enquiry/pre-order-enquiry/{report.number}"' in html
    assert f"/purchase/{report.number}" not in html


def test_stale_slug_redirects_permanently_keeping_the_campaign_query(client, seed_report):
    query = "utm_source=Github&utm_medium=2&utm_campaign=3514&utm_id=x%20y"
    response = client.get(f"/clinical-trials-smo-market-r1780960?{query}")
    assert response.status_code == 301
    assert response["Location"] == f"{SEED_URL}?{query}"


def test_stale_slug_without_query_redirects_to_the_bare_canonical_url(client, seed_report):
    response = client.get("/old-name-r1780960")
    assert response.status_code == 301 and response["Location"] == SEED_URL


@pytest.mark.parametrize(
    "url",
    ["/global-test-market-r9999999", "/anything-r9999999?utm_source=x"],
)
def test_unknown_report_number_is_404(client, seed_report, url):
    assert client.get(url).status_code == 404


def test_draft_report_is_404_under_any_slug(client):
    draft = ReportFactory(status=Report.Status.DRAFT)
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(f"/other-slug-r{draft.number}").status_code == 404


def add_parts(report, *, count: int):
    for _ in range(count):
        MarketDynamicFactory(report=report)
        KeyPlayerFactory(report=report)
        SegmentFactory(report=report)
        TocEntryFactory(report=report)
        FrequentQuestionFactory(report=report)
    for n in range(2):
        region = RegionFactory(report=report, name=f"Extra region {n}", share_percent=1)
        for code in ("DE", "FR", "IT", "ES"):
            RegionCountryFactory(region=region, country=code)


def count_page_queries(url: str) -> int:
    from django.test import Client

    with CaptureQueriesContext(connection) as queries:
        assert Client().get(url).status_code == 200
    return len(queries)


def test_report_page_costs_the_same_queries_whatever_the_catalogue_size(
    seed_report, django_assert_max_num_queries
):
    before = count_page_queries(SEED_URL)
    for _ in range(30):
        report = ReportFactory()
        LicenceFactory(report=report)
        add_parts(report, count=3)
    add_parts(seed_report, count=10)  # the page's own report grows too
    with django_assert_max_num_queries(before):
        count_page_queries(SEED_URL)
    assert before <= 14, f"the report page took {before} queries"


def test_catalogue_costs_the_same_queries_whatever_the_catalogue_size(settings):
    ReportFactory()
    before = count_page_queries("/")
    for n in range(40):
        ReportFactory(category=CategoryFactory(name=f"Category {n}", slug=f"category-{n}"))
    assert count_page_queries("/") == before


# --- Error pages -------------------------------------------------------------------------


def test_404_page_is_in_the_site_style_with_a_way_back(client):
    response = client.get("/no-such-page")
    text = text_of(response)
    assert response.status_code == 404
    assert "We can’t find that page" in text
    assert 'href="/static/css/bundle.css"' in response.content.decode()
    assert '<meta name="robots" content="noindex">' in response.content.decode()


@pytest.mark.urls("tests.reports.urls_error")
def test_500_page_is_in_the_site_style_and_hides_the_error(client):
    client.raise_request_exception = False
    response = client.get("/broken")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert "Reliable Research IQ" in html  # the publisher's name, without context processors
    assert 'href="/static/css/bundle.css"' in html
    assert "a failure the visitor must not see" not in html


def test_500_page_renders_without_the_database(rf, django_assert_num_queries):
    from smosite.views import server_error

    with django_assert_num_queries(0):
        response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content

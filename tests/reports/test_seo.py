"""What search engines read: meta tags, canonical URLs, JSON-LD, sitemap and robots.txt."""

import json
import re
from xml.etree import ElementTree

import pytest

from reports.models import FrequentQuestion, Licence, Report
from tests.factories import ReportFactory
from tests.reports.conftest import SEED_URL

pytestmark = pytest.mark.django_db

SITE = "https://www.reliableresearchiq.example"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def structured_data(html: str) -> dict[str, dict]:
    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return {data["@type"]: data for data in map(json.loads, scripts)}


def meta(html: str, attribute: str, name: str) -> str:
    match = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)">', html)
    assert match, f"no <meta {attribute}={name}>"
    return match.group(1)


def test_report_page_has_title_description_and_absolute_canonical(client, seed_report):
    html = client.get(SEED_URL).content.decode()
    assert (
        "<title>Clinical Trials Site Management Organizations Market, 2025–2032 | "
        "Reliable Research IQ</title>"
    ) in html
    assert meta(html, "name", "description").startswith(
        "Clinical Trials Site Management Organizations (SMO) market report 2025–2032: 13.7% CAGR"
    )
    assert f'<link rel="canonical" href="{SITE}{SEED_URL}">' in html
    assert 'name="robots"' not in html  # the report page is meant to be indexed


def test_report_page_has_opengraph_tags(client, seed_report):
    html = client.get(SEED_URL).content.decode()
    assert meta(html, "property", "og:title") == seed_report.title
    assert meta(html, "property", "og:url") == SITE + SEED_URL
    assert meta(html, "property", "og:site_name") == "Reliable Research IQ"
    assert meta(html, "property", "og:type") == "article"
    assert "13.7% CAGR" in meta(html, "property", "og:description")


def test_description_falls_back_to_the_summary_cut_to_length(client):
    report = ReportFactory(seo_description="", summary="Widgets. " * 60)
    description = meta(
        client.get(report.get_absolute_url()).content.decode(), "name", "description"
    )
    assert description.startswith("Widgets. Widgets.") and len(description) <= 160


def test_json_ld_product_offers_each_active_licence(client, seed_report):
    Licence.objects.filter(report=seed_report, kind="enterprise").update(is_active=False)
    product = structured_data(client.get(SEED_URL).content.decode())["Product"]
    assert product["@context"] == "https://schema.org"
    assert product["name"] == seed_report.title
    assert product["sku"] == "1780960"
    assert product["url"] == SITE + SEED_URL
    assert product["brand"] == {"@type": "Brand", "name": "Reliable Research IQ"}
    offers = {offer["name"]: offer for offer in product["offers"]}
    assert set(offers) == {"Single user licence", "Multi-user licence"}
    assert offers["Single user licence"]["price"] == "3900.00"
    assert offers["Single user licence"]["priceCurrency"] == "USD"
    assert offers["Multi-user licence"]["availability"] == "https://schema.org/InStock"
    assert offers["Multi-user licence"]["url"] == f"{SITE}/purchase/1780960"


def test_upcoming_report_offers_are_pre_orders(client, seed_report):
    Report.objects.filter(pk=seed_report.pk).update(status=Report.Status.UPCOMING)
    product = structured_data(client.get(SEED_URL).content.decode())["Product"]
    assert {o["availability"] for o in product["offers"]} == {"https://schema.org/PreOrder"}
    assert product["offers"][0]["url"] == f"{SITE}/enquiry/pre-order-enquiry/1780960"


def test_json_ld_breadcrumbs_lead_from_the_catalogue_to_the_report(client, seed_report):
    crumbs = structured_data(client.get(SEED_URL).content.decode())["BreadcrumbList"]
    assert [(i["position"], i["name"], i["item"]) for i in crumbs["itemListElement"]] == [
        (1, "Reports", f"{SITE}/"),
        (2, "Healthcare Services", f"{SITE}/?category=healthcare-services"),
        (3, seed_report.title, SITE + SEED_URL),
    ]


def test_json_ld_faq_page_holds_every_question(client, seed_report):
    faq = structured_data(client.get(SEED_URL).content.decode())["FAQPage"]
    questions = [q["name"] for q in faq["mainEntity"]]
    assert questions == list(seed_report.faqs.values_list("question", flat=True))
    assert faq["mainEntity"][0]["acceptedAnswer"] == {
        "@type": "Answer",
        "text": "We forecast a compound annual growth rate of 13.7% over 2025–2032.",
    }


def test_script_tags_in_texts_cannot_break_out_of_the_json_ld(client, seed_report):
    hostile = '</script><script>alert("x")</script> & <!-- more'
    FrequentQuestion.objects.filter(report=seed_report, position=0).update(answer=hostile)
    html = client.get(SEED_URL).content.decode()
    assert '<script>alert("x")' not in html
    assert "\\u003C/script\\u003E" in html
    faq = structured_data(html)["FAQPage"]
    assert faq["mainEntity"][0]["acceptedAnswer"]["text"] == hostile


def test_report_without_faqs_has_no_faq_page(client):
    report = ReportFactory()
    assert "FAQPage" not in structured_data(client.get(report.get_absolute_url()).content.decode())


def test_catalogue_is_canonical_and_its_searches_are_not_indexed(client, seed_report):
    html = client.get("/").content.decode()
    assert f'<link rel="canonical" href="{SITE}/">' in html
    assert 'name="robots"' not in html
    assert structured_data(html)["WebSite"]["potentialAction"]["target"] == (
        f"{SITE}/?q={{search_term_string}}"
    )
    searched = client.get("/", {"q": "trials"}).content.decode()
    assert '<meta name="robots" content="noindex, follow">' in searched
    assert f'<link rel="canonical" href="{SITE}/">' in searched


def test_category_and_later_catalogue_pages_are_canonical_pages_of_their_own(
    client, seed_report, settings
):
    settings.CATALOGUE_PAGE_SIZE = 1
    ReportFactory()
    category = client.get("/", {"category": "healthcare-services", "page": "2"}).content.decode()
    assert (
        f'<link rel="canonical" href="{SITE}/?category=healthcare-services&amp;page=2">'
    ) in category
    assert 'name="robots"' not in category
    unknown = client.get("/", {"category": "no-such-category"}).content.decode()
    assert '<meta name="robots" content="noindex, follow">' in unknown


def test_sitemap_lists_the_catalogue_and_public_reports_with_absolute_urls(client, seed_report):
    upcoming = ReportFactory(status=Report.Status.UPCOMING)
    draft = ReportFactory(status=Report.Status.DRAFT)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own output
    locations = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert f"{SITE}/" in locations
    assert SITE + SEED_URL in locations
    assert SITE + upcoming.get_absolute_url() in locations
    assert SITE + draft.get_absolute_url() not in locations
    assert len(locations) == 3
    lastmods = root.findall("s:url/s:lastmod", ns)
    assert seed_report.updated_at.date().isoformat() in [m.text for m in lastmods]


def test_robots_txt_keeps_crawlers_out_of_admin_and_forms_and_links_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    for path in ("/admin/", "/enquiry/", "/purchase/"):
        assert f"Disallow: {path}" in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines
    assert "Disallow: /" not in lines  # the site itself stays crawlable


def test_error_pages_are_not_indexed(client):
    assert b'<meta name="robots" content="noindex">' in client.get("/nothing-here").content

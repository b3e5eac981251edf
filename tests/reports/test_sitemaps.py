"""Sitemaps that scale: one file while the catalogue fits, an index of files past
SITEMAP_MAX_URLS (lowered here), each file's lastmod its reports' newest change."""

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from reports.models import Report
from tests.factories import ReportFactory

pytestmark = pytest.mark.django_db

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SITE = "http://127.0.0.1:8000"


def xml(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    return ElementTree.fromstring(response.content)  # noqa: S314 - our own output


def catalogue(count: int) -> list[Report]:
    reports = [ReportFactory(number=5000000 + n) for n in range(count)]
    ReportFactory(number=5999999, status=Report.Status.DRAFT)  # never listed
    return reports


def test_a_catalogue_that_fits_is_one_sitemap(client, settings):
    settings.SITEMAP_MAX_URLS = 10
    reports = catalogue(9)  # + the catalogue page = 10 URLs
    root = xml(client.get("/sitemap.xml"))
    assert root.tag == f"{{{NS['s']}}}urlset"
    locations = [loc.text for loc in root.findall("s:url/s:loc", NS)]
    assert locations[0] == f"{SITE}/"
    assert locations[1:] == [SITE + r.get_absolute_url() for r in reports]


def test_past_the_limit_the_sitemap_is_an_index_of_files_that_split_at_the_limit(client, settings):
    settings.SITEMAP_MAX_URLS = 4
    reports = catalogue(10)
    Report.objects.filter(pk=reports[5].pk).update(
        updated_at=datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    )

    index = xml(client.get("/sitemap.xml"))

    assert index.tag == f"{{{NS['s']}}}sitemapindex"
    files = [(s.find("s:loc", NS).text, s.find("s:lastmod", NS).text) for s in index]
    assert [loc for loc, _ in files] == [
        f"{SITE}/sitemaps/pages.xml",
        f"{SITE}/sitemaps/reports-1.xml",
        f"{SITE}/sitemaps/reports-2.xml",
        f"{SITE}/sitemaps/reports-3.xml",
    ]
    assert files[2][1] == "2031-05-06T07:08:00+00:00"  # reports 5-8 hold the newest change
    assert files[1][1] != files[2][1]
    seen = []
    for location, _ in files[1:]:
        part = xml(client.get(location.removeprefix(SITE)))
        seen += [loc.text for loc in part.findall("s:url/s:loc", NS)]
        assert len(part) <= 4
    assert seen == [SITE + r.get_absolute_url() for r in reports]
    pages = xml(client.get("/sitemaps/pages.xml"))
    assert [loc.text for loc in pages.findall("s:url/s:loc", NS)] == [f"{SITE}/"]


def test_a_file_past_the_last_is_not_found(client, settings):
    settings.SITEMAP_MAX_URLS = 4
    catalogue(5)
    assert client.get("/sitemaps/reports-2.xml").status_code == 200
    assert client.get("/sitemaps/reports-3.xml").status_code == 404
    assert client.get("/sitemaps/reports-0.xml").status_code == 404

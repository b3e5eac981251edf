"""Related reports on the report page (reports/services/related.py): similar reports by
category and markets, and "readers who requested this sample also requested" from
co-interest counts of at least RELATED_MIN_PAIRS people, computed by a beat task and stored
with the report, so the page costs no query more."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports.models import Report
from reports.models.related import RelatedReports
from reports.services.related import related_reports_refresh
from reports.tasks import related_reports_refresh as related_reports_refresh_task
from tests.factories import (
    CategoryFactory,
    ContactFactory,
    RegionFactory,
    ReportFactory,
    SampleRequestFactory,
)
from tests.reports.conftest import SEED_URL
from tests.reports.test_views import count_page_queries
from tests.support.waiting import wait_until


def report_with_markets(*markets, days_old=0, **fields):
    report = ReportFactory(published_at=timezone.now() - timedelta(days=days_old), **fields)
    for name in markets:
        RegionFactory(report=report, name=name)
    return report


def numbers(cards) -> list[int]:
    return [card["number"] for card in cards]


def interested(count: int, *reports, prefix: str) -> None:
    """`count` different people each request the samples of all `reports`."""
    for n in range(count):
        contact = ContactFactory(email=f"{prefix}{n}@readers.example")
        for report in reports:
            SampleRequestFactory(contact=contact, report=report)


@pytest.mark.django_db
def test_similar_reports_share_the_category_and_a_market_most_shared_then_newest_first(
    settings,
):
    settings.RELATED_REPORTS_COUNT = 3
    own = report_with_markets("Europe", "Asia Pacific")
    both = report_with_markets("Europe", "Asia Pacific", days_old=30)
    europe_new = report_with_markets("Europe", days_old=1)
    europe_old = report_with_markets("Europe", days_old=20)
    report_with_markets("North America")  # no market in common
    report_with_markets("Europe", status=Report.Status.DRAFT)  # not public
    other = CategoryFactory(name="Chemicals", slug="chemicals")
    report_with_markets("Europe", "Asia Pacific", category=other)  # another category

    related_reports_refresh()
    stored = RelatedReports.objects.get(report=own)
    assert numbers(stored.similar) == [both.number, europe_new.number, europe_old.number]
    assert stored.similar[0] == {"number": both.number, "slug": both.slug, "title": both.title}
    assert stored.also_requested == []


@pytest.mark.django_db
def test_also_requested_counts_only_pairs_at_least_the_minimum_of_people_asked_about(
    settings,
):
    settings.RELATED_MIN_PAIRS = 3
    viewed, popular, niche, unpublished = (report_with_markets() for _ in range(4))
    Report.objects.filter(pk=unpublished.pk).update(status=Report.Status.DRAFT)
    interested(4, viewed, popular, prefix="many")
    interested(2, viewed, niche, prefix="two")  # two people: would reveal too much
    interested(4, viewed, unpublished, prefix="draft")

    related_reports_refresh()
    assert numbers(RelatedReports.objects.get(report=viewed).also_requested) == [popular.number]
    assert numbers(RelatedReports.objects.get(report=popular).also_requested) == [viewed.number]
    assert RelatedReports.objects.get(report=niche).also_requested == []

    interested(1, viewed, niche, prefix="third")  # a third person: now shown
    assert related_reports_refresh() >= 2
    assert numbers(RelatedReports.objects.get(report=viewed).also_requested) == [
        popular.number,
        niche.number,
    ]
    assert related_reports_refresh() == 0  # nothing changed, nothing written


@pytest.mark.django_db
def test_related_reports_appear_on_the_report_page_without_a_query_more(
    client, seed_report, settings
):
    settings.RELATED_MIN_PAIRS = 2
    region = seed_report.regions.first().name
    sibling = report_with_markets(region, category=seed_report.category, title="Sibling market")
    co_read = report_with_markets(
        category=CategoryFactory(name="Chemicals", slug="chemicals"), title="Co-read market"
    )
    interested(2, seed_report, co_read, prefix="reader")
    before = count_page_queries(SEED_URL)
    page = client.get(SEED_URL).content.decode()
    assert 'id="related"' not in page

    related_reports_refresh()  # invalidates the cached pages
    assert count_page_queries(SEED_URL) == before
    page = client.get(SEED_URL).content.decode()
    assert f'href="{sibling.get_absolute_url()}">Sibling market</a>' in page
    assert "Readers who requested this sample also requested" in page
    assert f'href="{co_read.get_absolute_url()}">Co-read market</a>' in page


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_computes_related_reports_in_the_worker(celery_worker, settings):
    first, second = report_with_markets("Europe"), report_with_markets("Europe", days_old=2)
    related_reports_refresh_task.delay()
    wait_until(
        lambda: RelatedReports.objects.filter(report__in=[first, second]).count() == 2,
        message="the worker did not compute related reports",
    )
    assert numbers(RelatedReports.objects.get(report=first).similar) == [second.number]

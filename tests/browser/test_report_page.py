"""The seed report page in a real browser: what a visitor from a campaign link sees first."""

import pytest
from playwright.sync_api import expect

from reports.services.seed import report_load_seed

pytestmark = pytest.mark.django_db(transaction=True)

REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"


@pytest.fixture
def seed(transactional_db):
    return report_load_seed().report


def test_report_page_shows_metrics_chart_and_a_working_sample_link(live_server, page, seed):
    page.goto(f"{live_server.url}{REPORT_PATH}?utm_source=Github&utm_medium=2")
    metrics = page.locator("#key-metrics")
    assert metrics.is_visible()
    assert "13.7%" in metrics.inner_text()
    assert "North America" in metrics.inner_text()
    assert "Clinedge" in metrics.inner_text()

    chart = page.get_by_role("img", name="Market share by region")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    assert page.locator(".bar-chart text").all_text_contents()[:2] == ["North America", "40%"]

    sample = page.locator('.cta-card a[data-cta="sample"]')
    assert sample.is_visible()
    assert sample.inner_text() == "Request a free sample"
    assert sample.get_attribute("href") == "/enquiry/request-sample/1780960"
    sample.click()
    page.wait_for_url(f"{live_server.url}/enquiry/request-sample/1780960")


def test_report_page_fits_a_phone_screen(live_server, browser, seed):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}{REPORT_PATH}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.locator('.cta-card a[data-cta="sample"]').is_visible()
        assert phone.locator("#key-metrics").is_visible()
    finally:
        context.close()


def test_phone_gets_contents_near_the_top_and_a_sticky_bar_that_covers_nothing(
    live_server, browser, seed
):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.url}{REPORT_PATH}")
        contents = phone.locator("nav.page-nav-compact")
        assert contents.is_visible()
        assert phone.evaluate("document.querySelector('nav.page-nav-compact').offsetTop") < 1000
        assert "Prices" in contents.inner_text()
        assert not phone.locator(".report-sidebar").is_visible()  # its links are above now

        bar = phone.locator(".sticky-cta")
        # Until the top box has scrolled by, its own buttons are the way: the bar waits,
        # over nothing at the top of the page and never beside them.
        expect(bar).to_be_hidden()
        phone.locator(".cta-card").scroll_into_view_if_needed()
        expect(bar).to_be_hidden()
        phone.locator("#segmentation").scroll_into_view_if_needed()
        expect(bar).to_be_visible()
        box = bar.bounding_box()
        assert abs(box["y"] + box["height"] - 844) <= 1  # stuck to the bottom of the screen
        assert bar.locator('a[data-cta="sample-sticky"]').get_attribute("href") == (
            "/enquiry/request-sample/1780960"
        )
        assert bar.locator('a[data-cta="buy-sticky"]').get_attribute("href") == "/purchase/1780960"

        # At the end of the page the bar rests in the flow: the last section is above it.
        phone.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        last_section = phone.locator(".report-body > section").last.bounding_box()
        bar_top = bar.bounding_box()["y"]
        assert last_section["y"] + last_section["height"] <= bar_top
        cta_band = phone.locator(".cta-band").bounding_box()
        assert bar_top + bar.bounding_box()["height"] <= cta_band["y"] + 1
    finally:
        context.close()


def test_laptop_keeps_the_sidebar_and_shows_no_bar(live_server, page, seed):
    page.goto(f"{live_server.url}{REPORT_PATH}")
    assert page.locator(".report-sidebar nav.page-nav").is_visible()
    assert not page.locator("nav.page-nav-compact").is_visible()
    assert not page.locator(".sticky-cta").is_visible()

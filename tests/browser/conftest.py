"""Browser fixtures for the purchase journey. One Playwright session serves every browser
test (tests/conftest.py's `browser`): Playwright's sync API cannot run two at once."""

import pytest


@pytest.fixture(scope="session")
def chromium_browser(browser):
    return browser


@pytest.fixture
def buyer_page(chromium_browser):
    context = chromium_browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()

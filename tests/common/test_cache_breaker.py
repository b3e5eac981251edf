"""A hung cache costs one timeout, not one per request: the page cache, the search cache, the
recompute locks and the rate limits ask the shared cache through one breaker
(common/breaker.py). The cache here is a real socket that accepts connections and never
answers (tests/support/stalling.py), then relays to the real Redis once it "answers".

Speed is shown by structure, not by the clock: every command sent to the hung cache is a
request that waited CACHE_TIMEOUT_SECONDS for it, so counting them counts the waits. The
timings are printed as FIGURE lines."""

import threading
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from common import breaker
from common.ratelimit import rate_limit_exceeded
from reports.services.seed import report_load_seed
from tests.support.stalling import StallingProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

REPORT_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"
TIMEOUT = 0.5  # CACHE_TIMEOUT_SECONDS's default


@pytest.fixture
def seeded(db):
    """The seed report, loaded before the cache hangs (its saves bump the generation)."""
    report_load_seed()


@pytest.fixture
def hung_cache(settings):
    """The default cache pointed at a server that accepts and never answers (until told to
    answer: then it relays to this test process's Redis)."""
    redis_url = urlsplit(django_settings.CACHES["default"]["LOCATION"])
    with StallingProxy(upstream=(redis_url.hostname, redis_url.port)) as proxy:
        settings.CACHE_TIMEOUT_SECONDS = TIMEOUT
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{proxy.port}{redis_url.path}",
                "OPTIONS": {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT},
            }
        }
        yield proxy


def anonymous_get(url: str) -> tuple[int, int, float]:
    """(status, queries, seconds) of a new visitor's GET."""
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        status = Client().get(url).status_code
    return status, len(queries), time.monotonic() - started


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@pytest.mark.parametrize("page_cache", [True, False], ids=["page-cache", "search-cache-only"])
def test_a_hung_cache_is_waited_on_once_then_pages_are_rendered_without_it(
    seeded, hung_cache, settings, page_cache
):
    """With the page cache off, the catalogue's and report page's search figures are what
    asks the cache: the search cache shares the breaker too."""
    settings.CACHE_BREAKER_SECONDS = 600  # longer than the test: no trial in between
    settings.PAGE_CACHE_SECONDS = 600 if page_cache else 0

    status, _, first = anonymous_get("/")
    assert status == 200
    assert hung_cache.commands == 1  # the first request waited once, for one command

    answers = [anonymous_get(url) for url in ["/", REPORT_URL] * 25]
    assert [status for status, _, _ in answers] == [200] * 50
    assert all(queries > 0 for _, queries, _ in answers)  # rendered, not from a cache
    assert hung_cache.commands == 1 and hung_cache.accepted == 1  # nobody waited again
    # The rate limits share the breaker: they let the post through without asking.
    assert rate_limit_exceeded(scope="sample", key="x", limit=0, window_seconds=60) is False
    assert hung_cache.commands == 1
    waits = [seconds for _, _, seconds in answers]
    figure = f"first request {first:.3f}s, then 50 GETs p99 {p99(waits):.3f}s"
    if page_cache:  # beside the same pages rendered with no cache at all, in this run
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
        settings.PAGE_CACHE_SECONDS = 0
        baseline = [anonymous_get(url)[2] for url in ["/", REPORT_URL] * 25]
        figure += f", {p99(waits) / p99(baseline):.2f}× the p99 of pages with no cache"
    print(f"\nFIGURE hung {'page' if page_cache else 'search'} cache: {figure}")  # noqa: T201


def test_the_hung_cache_is_tried_once_per_period_and_used_again_once_it_answers(
    seeded, hung_cache, settings
):
    settings.CACHE_BREAKER_SECONDS = 1
    started = time.monotonic()
    requests = 0
    while time.monotonic() - started < 3 * settings.CACHE_BREAKER_SECONDS:
        assert anonymous_get(REPORT_URL)[0] == 200
        requests += 1
    elapsed = time.monotonic() - started
    # One trial per period at most (each trial that hangs opens the breaker again).
    assert 1 <= hung_cache.commands <= 1 + elapsed / settings.CACHE_BREAKER_SECONDS
    assert requests > 2 * hung_cache.commands

    hung_cache.answer()

    def served_from_the_cache():
        anonymous_get(REPORT_URL)
        status, queries, _ = anonymous_get(REPORT_URL)
        return status == 200 and queries == 0

    wait_until(served_from_the_cache, timeout=15, message="the cache was never used again")
    print(  # noqa: T201
        f"\nFIGURE hung cache for {elapsed:.1f}s: {requests} requests, "
        f"{hung_cache.commands} waited (breaker period 1 s)"
    )


def test_concurrent_requests_after_the_period_send_one_trial(hung_cache, settings):
    """Eight requests arriving together once the period is over: one tries the cache, the
    seven others are rendered without it."""
    settings.ROOT_URLCONF = "tests.common.urls_pagecache"
    settings.CACHE_BREAKER_SECONDS = 1
    assert Client().get("/plain-page").status_code == 200
    assert hung_cache.commands == 1
    wait_until(lambda: not breaker.cache_breaker.is_open, timeout=10)

    start = threading.Barrier(8)
    statuses = []

    def visit():
        start.wait(timeout=10)
        statuses.append(Client().get("/plain-page").status_code)

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 8
    assert hung_cache.commands == 2  # the first request's, and one trial


def test_the_breaker_lets_one_trial_through_after_its_period():
    guard = breaker.Breaker()
    assert guard.allow(seconds=60)
    guard.trip(seconds=60)
    assert guard.is_open and not guard.allow(seconds=60)
    guard.open_until = time.monotonic() - 1  # the period is over
    assert guard.allow(seconds=60)  # the trial
    assert not guard.allow(seconds=60)  # everyone else, while the trial runs
    guard.succeeded()
    assert guard.allow(seconds=60) and guard.allow(seconds=60)

"""A cached search after a catalogue write (reports/search/__init__.py, `_shared`): one
request computes it again while overlapping requests get the previous figures (or, with
none, wait for the one computing); requests one after another always see the catalogue as
it is, and a page built from previous figures is never kept by the page cache. Real
concurrency: requests in threads, each with its own PostgreSQL connection, the lock in the
real Redis cache."""

import threading
import time
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from common.recompute import recomputing
from reports import search
from reports.models import Report
from reports.search import SearchParams, catalogue_search
from tests.factories import CategoryFactory, ReportFactory

pytestmark = pytest.mark.django_db(transaction=True)
PUMP = SearchParams(q="pump")
SUMMARY_KEY = f"catalogue-search:{PUMP.key()}"


@pytest.fixture
def threads():
    """Threads started by a test, and the gates holding them: whatever the test's outcome,
    the gates open and the threads end before the next test's database flush."""
    started: list[threading.Thread] = []
    gates: list[threading.Event] = []
    yield started, gates
    for gate in gates:
        gate.set()
    for thread in started:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in started)


def pump_reports(count: int) -> list[Report]:
    category = CategoryFactory(name="Medical Devices", slug="medical-devices")
    return [
        ReportFactory(title=f"Pump Market {i}", category=category, edition_date=date(2025, 6, 1))
        for i in range(count)
    ]


def total(params: SearchParams = PUMP) -> int:
    return catalogue_search(params).page.paginator.count


class Computations:
    """Counts the search summaries computed (in any thread) and can hold them at a gate:
    a request held there is "a request computing the search" for as long as the test likes."""

    def __init__(self, monkeypatch, threads, *, held: bool = False, fails: int = 0, sleep=0.0):
        """`fails`: how many computations (the first ones) fail."""
        self.count, self.lock = 0, threading.Lock()
        self.started, self.gate = threading.Event(), threading.Event()
        threads[1].append(self.gate)
        self.fails, self.sleep = fails, sleep
        if not held:
            self.gate.set()
        real = search._summary

        def counted(*args, **kwargs):
            with self.lock:
                self.count += 1
                fails = self.count <= self.fails
            self.started.set()
            assert self.gate.wait(timeout=30)
            time.sleep(self.sleep)
            if fails:
                raise RuntimeError("the computing request failed")
            return real(*args, **kwargs)

        monkeypatch.setattr(search, "_summary", counted)


def in_thread(threads, call) -> tuple[threading.Thread, dict]:
    """`call()` in a thread of its own (its own database connection), as another request."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except Exception as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    threads[0].append(thread)
    thread.start()
    return thread, outcome


def answered_at_once_while_another_computes(monkeypatch, threads, *, previous, new):
    """Another request computes the pump search (held at the gate); this one gets the
    `previous` total at once (waiting would last until the gate opens) and computes nothing;
    then the other finishes with the `new` total, and nothing was computed twice."""
    computations = Computations(monkeypatch, threads, held=True)
    computing, outcome = in_thread(threads, total)
    assert computations.started.wait(timeout=10)
    started = time.monotonic()
    assert total() == previous
    assert time.monotonic() - started < 5
    assert computations.count == 1
    computations.gate.set()
    computing.join(timeout=30)
    assert outcome == {"value": new}
    assert computations.count == 1
    return computations


def test_after_a_write_overlapping_requests_get_the_previous_figures_while_one_computes(
    monkeypatch, threads
):
    pump_reports(2)
    assert total() == 2
    ReportFactory(title="Pump Market 2", category=Report.objects.first().category)
    computations = answered_at_once_while_another_computes(monkeypatch, threads, previous=2, new=3)
    assert total() == 3
    assert computations.count == 1  # stored: the next request computed nothing


def test_requests_one_after_another_always_see_the_catalogue_as_it_is(monkeypatch, threads):
    reports = pump_reports(2)
    computations = Computations(monkeypatch, threads)
    assert total() == 2
    ReportFactory(title="Pump Market 2", category=reports[0].category)
    assert total() == 3
    reports[0].status = Report.Status.DRAFT
    reports[0].save()
    assert total() == 2
    assert computations.count == 3


def test_with_no_previous_figures_overlapping_requests_wait_for_the_one_computing(
    monkeypatch, threads
):
    pump_reports(3)
    computations = Computations(monkeypatch, threads, sleep=0.5)
    barrier = threading.Barrier(6)

    def request():
        barrier.wait(timeout=10)
        return total()

    started = [in_thread(threads, request) for _ in range(6)]
    for thread, _ in started:
        thread.join(timeout=30)
    assert [outcome for _, outcome in started] == [{"value": 3}] * 6
    assert computations.count == 1


def waiting_signal(monkeypatch) -> threading.Event:
    """Set once a request is in the wait loop (it asks whether the computation still runs)."""
    waiting = threading.Event()
    real = search.is_recomputing

    def asked(key):
        waiting.set()
        return real(key)

    monkeypatch.setattr(search, "is_recomputing", asked)
    return waiting


def test_a_computation_that_fails_does_not_keep_the_others_waiting(monkeypatch, settings, threads):
    settings.CATALOGUE_SEARCH_WAIT_SECONDS = 20
    pump_reports(1)
    computations = Computations(monkeypatch, threads, held=True, fails=1)
    waiting = waiting_signal(monkeypatch)
    failing, failed = in_thread(threads, total)
    assert computations.started.wait(timeout=10)

    waiter, waited = in_thread(threads, lambda: (total(), time.monotonic()))
    assert waiting.wait(timeout=10)  # it is waiting for the computing request
    released = time.monotonic()
    computations.gate.set()
    failing.join(timeout=30)
    waiter.join(timeout=30)

    assert isinstance(failed["error"], RuntimeError)
    count, finished = waited["value"]
    assert count == 1
    assert finished - released < 5  # not the 20 s a lost lock would cost
    assert computations.count == 2


def test_a_computation_slower_than_the_wait_no_longer_holds_the_others(
    monkeypatch, settings, threads
):
    """CATALOGUE_SEARCH_WAIT_SECONDS bounds both the wait and the lock: after it, the next
    request computes (and the slow one still finishes and answers)."""
    settings.CATALOGUE_SEARCH_WAIT_SECONDS = 1
    pump_reports(1)
    computations = Computations(monkeypatch, threads, held=True)
    stuck, stuck_outcome = in_thread(threads, total)
    assert computations.started.wait(timeout=10)
    waiter, waited = in_thread(threads, total)
    deadline = time.monotonic() + 10
    while computations.count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert computations.count == 2
    computations.gate.set()
    for thread in (stuck, waiter):
        thread.join(timeout=30)
    assert waited == {"value": 1} and stuck_outcome == {"value": 1}


def test_a_search_past_its_time_is_computed_again_by_one_request_the_others_answered_at_once(
    monkeypatch, settings, threads
):
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 60
    pump_reports(2)
    assert total() == 2
    later = time.time() + 61  # past its time (no write): recomputed all the same
    monkeypatch.setattr(search, "_now", lambda: later)
    answered_at_once_while_another_computes(monkeypatch, threads, previous=2, new=2)


def test_the_previous_page_of_results_never_shows_a_report_unpublished_since():
    reports = pump_reports(3)
    first = [r.number for r in catalogue_search(PUMP).page.object_list]
    assert len(first) == 3
    gone = Report.objects.get(number=first[0])
    gone.status = Report.Status.DRAFT
    gone.save()
    # Another request is computing this search's figures and its first page afresh.
    assert cache.add(f"{SUMMARY_KEY}:recomputing", "x", 30)
    assert cache.add(f"{SUMMARY_KEY}:ids:0:{len(reports)}:recomputing", "x", 30)  # rows 0-3

    shown = [r.number for r in catalogue_search(PUMP).page.object_list]

    assert shown == first[1:]


def test_a_page_built_from_previous_figures_is_not_kept_as_the_current_page():
    """Pages of one search share its figures: a page rendered while another request
    recomputes them shows the previous figures once, and is not stored for later visitors."""
    pump_reports(2)
    assert b"2 reports" in Client().get("/", {"q": "pump"}).content
    ReportFactory(title="Pump Market 2", category=Report.objects.first().category)
    with recomputing(SUMMARY_KEY, 30) as computing:  # as the request computing them would
        assert computing is True
        overlapping = Client().get("/", {"q": "pump"})
        assert b"2 reports" in overlapping.content  # the previous figures, at once
    following = Client().get("/", {"q": "pump"})
    assert b"3 reports" in following.content
    assert following.context is not None  # rendered: the overlapping page was not stored

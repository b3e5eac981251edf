"""A cached search after a catalogue write (reports/search/__init__.py, `_shared`): one
request computes it again while overlapping requests get the previous figures (or, with
none, wait for the one computing); requests one after another always see the catalogue as
it is. Real concurrency: requests in threads, each with its own PostgreSQL connection, the
lock in the real Redis cache."""

import threading
import time
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection

from reports import search
from reports.models import Report
from reports.search import SearchParams, catalogue_search
from tests.factories import CategoryFactory, ReportFactory

pytestmark = pytest.mark.django_db(transaction=True)
PUMP = SearchParams(q="pump")


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

    def __init__(self, monkeypatch, *, held: bool = False, fails: int = 0, sleep: float = 0):
        """`fails`: how many computations (the first ones) fail."""
        self.count, self.lock = 0, threading.Lock()
        self.started, self.gate = threading.Event(), threading.Event()
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


def in_thread(call) -> tuple[threading.Thread, dict]:
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
    thread.start()
    return thread, outcome


def test_after_a_write_overlapping_requests_get_the_previous_figures_while_one_computes(
    monkeypatch,
):
    pump_reports(2)
    assert total() == 2
    ReportFactory(title="Pump Market 2", category=Report.objects.first().category)
    computations = Computations(monkeypatch, held=True)

    computing, outcome = in_thread(total)
    assert computations.started.wait(timeout=10)
    # Meanwhile: the previous figures at once, nothing computed a second time.
    started = time.monotonic()
    assert total() == 2
    assert time.monotonic() - started < 1
    assert computations.count == 1

    computations.gate.set()
    computing.join(timeout=30)
    assert outcome == {"value": 3}
    assert total() == 3  # stored: the next request computes nothing
    assert computations.count == 1


def test_requests_one_after_another_always_see_the_catalogue_as_it_is(monkeypatch):
    reports = pump_reports(2)
    computations = Computations(monkeypatch)
    assert total() == 2
    ReportFactory(title="Pump Market 2", category=reports[0].category)
    assert total() == 3
    reports[0].status = Report.Status.DRAFT
    reports[0].save()
    assert total() == 2
    assert computations.count == 3


def test_with_no_previous_figures_overlapping_requests_wait_for_the_one_computing(monkeypatch):
    pump_reports(3)
    computations = Computations(monkeypatch, sleep=0.5)
    barrier = threading.Barrier(6)

    def request():
        barrier.wait(timeout=10)
        return total()

    threads = [in_thread(request) for _ in range(6)]
    for thread, _ in threads:
        thread.join(timeout=30)
    assert [outcome for _, outcome in threads] == [{"value": 3}] * 6
    assert computations.count == 1


def test_a_computation_that_fails_does_not_keep_the_others_waiting(monkeypatch, settings):
    settings.CATALOGUE_SEARCH_WAIT_SECONDS = 20
    pump_reports(1)
    computations = Computations(monkeypatch, held=True, fails=1)
    failing, failed = in_thread(total)
    assert computations.started.wait(timeout=10)

    waiting, waited = in_thread(lambda: (total(), time.monotonic()))
    time.sleep(0.3)  # it is waiting for the computing request
    released = time.monotonic()
    computations.gate.set()
    failing.join(timeout=30)
    waiting.join(timeout=30)

    assert isinstance(failed["error"], RuntimeError)
    count, finished = waited["value"]
    assert count == 1
    assert finished - released < 5  # not the 20 s a lost lock would cost
    assert computations.count == 2


def test_a_waiting_request_computes_itself_when_the_computing_one_takes_too_long(
    monkeypatch, settings
):
    settings.CATALOGUE_SEARCH_WAIT_SECONDS = 1
    pump_reports(1)
    computations = Computations(monkeypatch, held=True)
    stuck, _ = in_thread(total)
    assert computations.started.wait(timeout=10)
    # The waiting request gives up after a second and computes (held too, so let it pass).
    waiting, waited = in_thread(total)
    deadline = time.monotonic() + 10
    while computations.count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert computations.count == 2
    computations.gate.set()
    for thread in (stuck, waiting):
        thread.join(timeout=30)
    assert waited == {"value": 1}


def test_the_previous_page_of_results_never_shows_a_report_unpublished_since(monkeypatch):
    reports = pump_reports(3)
    first = [r.number for r in catalogue_search(PUMP).page.object_list]
    assert len(first) == 3
    gone = Report.objects.get(number=first[0])
    gone.status = Report.Status.DRAFT
    gone.save()
    # Another request is computing this search's figures and its first page afresh.
    key = f"catalogue-search:{PUMP.key()}"
    assert cache.add(f"{key}:recomputing", "x", 30)
    assert cache.add(f"{key}:ids:0:{len(reports)}:recomputing", "x", 30)  # page 1: rows 0 to 3

    shown = [r.number for r in catalogue_search(PUMP).page.object_list]

    assert shown == first[1:]


def test_a_search_past_its_time_is_computed_again_by_one_request_the_others_answered_at_once(
    monkeypatch, settings
):
    settings.CATALOGUE_SEARCH_CACHE_SECONDS = 1
    pump_reports(2)
    assert total() == 2
    time.sleep(1.1)  # past its time: no write, but recomputed all the same
    computations = Computations(monkeypatch, held=True)

    computing, outcome = in_thread(total)
    assert computations.started.wait(timeout=10)
    started = time.monotonic()
    assert total() == 2
    assert time.monotonic() - started < 0.5
    assert computations.count == 1
    computations.gate.set()
    computing.join(timeout=30)
    assert outcome == {"value": 2}

"""PostgreSQL connections killed under load (pg_terminate_backend on this test's own
database) while gunicorn serves pages and sample requests with connections kept between
requests, as in production: requests in flight succeed or fail cleanly, nothing is half
written, and every request after the kill works (the connection health check reconnects)."""

import re
import threading
import time
from collections import Counter

import pytest
import requests
from django.db import connection

from common.models import Job
from enquiries.models import SampleRequest
from enquiries.services.samples import JOB
from reports.services.seed import report_load_seed
from tests.support.forms import form_started_token
from tests.support.gunicorn import GunicornServer

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def site(tmp_path):
    server = GunicornServer(
        log_path=tmp_path / "gunicorn.log",
        settings_module="tests.support.settings_kept_connections",
        env={
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # jobs wait for the sweeper
            "SAMPLE_RATE_LIMIT_PER_IP": "100000",
            "SAMPLE_RATE_LIMIT_PER_EMAIL": "100000",
        },
    ).start()
    yield server
    server.stop()


def visitor(site, report, name, outcomes, stop):
    """Reads the report page and asks for a sample, over and over, like a busy campaign.
    Each request is recorded with the time it started and its status."""
    session = requests.Session()
    form_url = f"{site.url}/enquiry/request-sample/{report.number}"

    def record(email, call):
        started = time.monotonic()
        try:
            response = call()
        except requests.RequestException as exc:  # a reset or hang is not a clean failure
            outcomes.append((started, email, type(exc).__name__))
            return None
        outcomes.append((started, email, response.status_code))
        return response

    n = 0
    while not stop.is_set():
        n += 1
        email = f"{name}.{n}@load.example"
        record(email, lambda: session.get(f"{site.url}{report.get_absolute_url()}", timeout=20))
        form = record(email, lambda: session.get(form_url, timeout=20))
        if form is None or not form.ok:
            continue  # no form, nothing to send (posting without its token is a 403)
        data = {
            "csrfmiddlewaretoken": CSRF.search(form.text).group(1),
            "name": f"{name} {n}",
            "email": email,
            "company": "Load Test",
            "job_title": "Analyst",
            "country": "DE",
            "consent": "on",
            "form_started": form_started_token(age_seconds=30),
        }
        record(
            email,
            lambda data=data: session.post(
                form_url,
                data=data,
                headers={"Referer": form_url},
                allow_redirects=False,
                timeout=20,
            ),
        )


def terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def run_load(site, report, seconds, outcomes, *, during=None):
    """Four visitors for `seconds`; `during()` runs after the first half. Returns when every
    visitor has finished its last request."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=visitor, args=(site, report, f"v{len(outcomes)}-{i}", outcomes, stop)
        )
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 2)
    result = during() if during else None
    time.sleep(seconds / 2)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return result


def test_killed_database_connections_fail_cleanly_and_the_next_requests_work(site):
    report = report_load_seed().report
    outcomes = []

    # Killed under load: what is in flight fails cleanly, what starts later is served.
    killed_at = []
    killed = run_load(
        site,
        report,
        6,
        outcomes,
        during=lambda: (terminate_other_connections(), killed_at.append(time.monotonic()))[0],
    )
    assert killed >= 2, "the gunicorn workers had no database connections to kill"
    every = Counter(status for _, _, status in outcomes)
    assert set(every) <= {200, 302, 500}, every  # served, or the 500 page: never a reset
    later = [status for started, _, status in outcomes if started > killed_at[0]]
    assert later and set(later) <= {200, 302}, f"{Counter(later)}\n{site.tail(80)}"
    assert every[500] <= 4, every  # at most what was in flight
    print(f"\nFIGURE PostgreSQL kill under load: {killed} connections killed, {dict(every)}")

    # Killed while idle (a database restart at night): the next requests reconnect.
    assert terminate_other_connections() >= 2
    resumed = len(outcomes)
    run_load(site, report, 2, outcomes)
    after_idle = Counter(status for _, _, status in outcomes[resumed:])
    assert set(after_idle) <= {200, 302}, f"{after_idle}\n{site.tail(80)}"
    print(f"FIGURE PostgreSQL kill while idle: next requests {dict(after_idle)}")

    posted = {email for _, email, status in outcomes if status == 302}
    stored = set(SampleRequest.objects.values_list("email", flat=True))
    assert posted <= stored  # every thanked visitor's lead is there
    with_job = set(
        SampleRequest.objects.filter(
            pk__in=Job.objects.filter(kind=JOB).values("target_id")
        ).values_list("email", flat=True)
    )
    assert stored == with_job  # no lead without its job: nothing half-written

"""Several workers on the same queues, as production runs them: jobs spread across them, and
when one is SIGKILLed in the middle of a burst, the others finish its work and nothing is
lost or sent twice. Beat runs for real and its sweeper picks up the dead worker's claims."""

from collections import Counter

import pytest
from django.urls import reverse

from contacts.models import OutboundEmail
from enquiries.models import SampleRequest
from reports.services.seed import report_load_seed
from tests.support.broker import broker_at
from tests.support.forms import form_started_token
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
REQUESTS = 30
ENV = {
    "JOB_LEASE_SECONDS": "10",
    "JOB_TIME_LIMIT_SECONDS": "8",
    "PDF_RENDER_TIME_LIMIT": "8",
    "PDF_RENDER_SOFT_TIME_LIMIT": "6",
    "JOB_SWEEP_INTERVAL_SECONDS": "2",
    # Messages the killed worker had reserved stay unacknowledged in Redis: published again.
    "JOB_REDISPATCH_AFTER_SECONDS": "5",
}


def jobs_run_by(worker) -> int:
    return worker.tail(5000).count("] succeeded in ")


def test_jobs_spread_across_two_workers_and_a_killed_one_loses_nothing(
    client, private_redis, start_worker, mailbox, settings
):
    broker = private_redis.url(0)
    settings.SAMPLE_RATE_LIMIT_PER_IP = settings.SAMPLE_RATE_LIMIT_PER_EMAIL = 1000
    one = start_worker("one", CELERY_BROKER_URL=broker, concurrency=1, **ENV)
    two = start_worker("two", beat=True, CELERY_BROKER_URL=broker, concurrency=1, **ENV)
    report = report_load_seed().report  # loading renders nothing: the bases are installed
    install_rendered_bases(report)
    with broker_at(broker):
        for n in range(REQUESTS):
            data = {
                "name": f"Reader {n}",
                "email": f"reader{n}@spread.example",
                "company": "Spread",
                "job_title": "Analyst",
                "country": "DE",
                "consent": "on",
                "form_started": form_started_token(age_seconds=30),
            }
            response = client.post(reverse("enquiries:request-sample", args=[report.number]), data)
            assert response.status_code == 302
            if n == REQUESTS // 3:
                wait_until(
                    lambda: jobs_run_by(one) and jobs_run_by(two),
                    timeout=60,
                    message="the two workers did not both take jobs",
                )
                one.kill()  # mid-burst, main process and pool
        wait_until(
            lambda: SampleRequest.objects.filter(status="emailed").count() == REQUESTS,
            timeout=180,
            message=f"not every sample was emailed after the kill:\n{two.tail()}",
        )
        two.wait_idle()
    # One email row per request, and every one delivered. The kill may land in the instant
    # between the SMTP server's "250 OK" and the commit that marks the email sent (what
    # docs/reliability.md says is not promised): then, and only then, that one message goes
    # out again, as the same email (same Message-ID, which mail stores collapse).
    emails = OutboundEmail.objects.filter(to__endswith="@spread.example")
    assert emails.count() == REQUESTS and set(emails.values_list("status", flat=True)) == {"sent"}
    recipients = Counter(m["To"] for m in mailbox.messages)
    assert len(recipients) == REQUESTS
    again = {to: n for to, n in recipients.items() if n > 1}
    assert len(again) <= 1 and set(again.values()) <= {2}, f"sent more than once: {again}"
    for to in again:
        ids = {m["Message-ID"] for m in mailbox.messages if m["To"] == to}
        assert ids == {emails.get(to=to).message_id}, f"{to} got two different emails: {ids}"
    assert "jobs-sweep" in two.tail(5000) or "jobs_sweep" in two.tail(5000)  # beat fired

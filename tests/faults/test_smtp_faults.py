"""The mail server failing each way a real one does — refusing connections, answering 451,
accepting the connection and never answering — then recovering: each failure costs one
attempt and a longer wait, and the email is delivered exactly once."""

import pytest
from django.db import transaction

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services.outbox import JOB, email_queue
from tests.support.broker import broker_at
from tests.support.smtp import SmtpEndpoint
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 2


@pytest.fixture
def endpoint():
    server = SmtpEndpoint()
    yield server
    server.refuse()


def test_a_refusing_failing_then_hanging_mail_server_costs_retries_not_the_email(
    endpoint, private_redis, start_worker
):
    broker = private_redis.url(0)
    worker = start_worker(
        "smtp",
        CELERY_BROKER_URL=broker,
        EMAIL_URL=f"smtp://127.0.0.1:{endpoint.port}",
        EMAIL_TIMEOUT=str(TIMEOUT),
        MAIL_MAX_ATTEMPTS="6",
        MAIL_RETRY_BACKOFF_SECONDS="1",
    )
    endpoint.refuse()
    with broker_at(broker), transaction.atomic():
        email = email_queue(
            to="reader@flaky-mail.example",
            template="tests/email/test_message",
            context={"name": "Reader"},
        )

    def failed_attempt(number: int, error: str) -> Job:
        return wait_until(
            lambda: Job.objects.filter(
                kind=JOB,
                target_id=email.pk,
                state="pending",
                attempts=number,
                last_error__icontains=error,
            ).first(),
            timeout=60,
            message=f"attempt {number} did not fail with {error!r}:\n{worker.tail()}",
        )

    waits = []
    for number, (error, next_mode) in enumerate(
        [("refused", endpoint.fail), ("451", endpoint.hang), ("timed out", endpoint.accept)],
        start=1,
    ):
        job = failed_attempt(number, error)
        waits.append((job.due_at - job.claimed_at).total_seconds())
        next_mode()
    print(f"\nFIGURE SMTP faults: attempt start to next attempt {[round(w, 1) for w in waits]}s")
    assert waits[0] >= 1 and waits[1] >= 2 and waits[2] >= TIMEOUT + 4, waits  # backoff doubles

    wait_until(
        lambda: OutboundEmail.objects.filter(pk=email.pk, status="sent").exists(),
        timeout=60,
        message=f"the email was not sent once the server recovered:\n{worker.tail()}",
    )
    worker.wait_idle()
    assert [m["To"] for m in endpoint.sink.messages] == ["reader@flaky-mail.example"]
    job = Job.objects.get(kind=JOB, target_id=email.pk)
    assert (job.state, job.attempts) == ("done", 4)

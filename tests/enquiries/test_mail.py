"""The mail log: real SMTP delivery through a real Celery worker, retries, dedupe."""

import pytest
from django.db import transaction

from common import jobs
from common.models import Job
from contacts.models import OutboundEmail
from contacts.services.outbox import JOB, email_queue, email_resend
from tests.support.jobs import job_of, run_job
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def queue_test_email(**kwargs):
    defaults = {
        "to": "reader@acme-pharma.example",
        "template": "tests/email/test_message",
        "context": {"name": "Reader <b>"},
    }
    with transaction.atomic():
        return email_queue(**(defaults | kwargs))


def stored_email():
    """A queued row whose job is never handed to the broker: the session's live worker would
    otherwise race the test's own `run_job` calls for it."""
    return OutboundEmail.objects.create(
        to="reader@acme-pharma.example",
        from_email="x@localhost",
        subject="Direct",
        template="t",
        body_text="Body",
        message_id=OutboundEmail.new_message_id(),
    )


def test_queued_email_is_delivered_by_the_worker_over_smtp(celery_worker, mailbox):
    email = queue_test_email()
    received = mailbox.wait_for(1, to="reader@acme-pharma.example")[0]
    assert received["Subject"] == "Test message for Reader <b>"
    assert received["Message-ID"] == email.message_id
    wait_until(lambda: OutboundEmail.objects.get(pk=email.pk).status == "sent")
    row = OutboundEmail.objects.get(pk=email.pk)
    assert row.sent_at is not None
    assert job_of(JOB, email.pk).state == "done" and job_of(JOB, email.pk).attempts == 1


def test_html_part_escapes_visitor_text(celery_worker, mailbox):
    queue_test_email()
    received = mailbox.wait_for(1)[0]
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "Reader &lt;b&gt;" in html and "Reader <b>" not in html


def test_same_dedupe_key_sends_once(celery_worker, mailbox):
    first = queue_test_email(dedupe_key="receipt:X-1")
    second = queue_test_email(dedupe_key="receipt:X-1")
    assert first.pk == second.pk
    mailbox.wait_for(1)
    wait_until(lambda: OutboundEmail.objects.get(pk=first.pk).status == "sent")
    assert len(mailbox.messages) == 1
    assert OutboundEmail.objects.count() == 1


def test_transient_smtp_failure_is_retried_then_sent(celery_worker, mailbox):
    mailbox.fail_next = 1
    email = queue_test_email()
    mailbox.wait_for(1, timeout=30)
    wait_until(lambda: OutboundEmail.objects.filter(pk=email.pk, status="sent").first())
    assert job_of(JOB, email.pk).attempts == 2
    assert len(mailbox.messages) == 1


def test_smtp_down_records_failure_and_keeps_the_email(settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    settings.MAIL_MAX_ATTEMPTS = 2
    email = stored_email()
    assert run_job(JOB, email.pk).startswith("retry in")
    job = job_of(JOB, email.pk)
    assert job.state == "pending" and job.attempts == 1 and "refused" in job.last_error.lower()
    assert OutboundEmail.objects.get(pk=email.pk).status == "queued"
    assert run_job(JOB, email.pk) == "failed"
    row = OutboundEmail.objects.get(pk=email.pk)
    assert row.status == "failed" and "refused" in row.last_error.lower()
    assert job_of(JOB, email.pk).attempts == 2


def test_sent_email_is_not_sent_again(mailbox, settings, smtp_server):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }
    email = stored_email()
    assert run_job(JOB, email.pk) == "done"
    Job.objects.filter(kind=JOB, target_id=email.pk).update(state="pending")  # a stray rerun
    run_job(JOB, email.pk)
    assert len(mailbox.messages) == 1


def test_sweeper_publishes_jobs_the_broker_never_got(celery_worker, mailbox):
    email = stored_email()
    Job.objects.create(kind=JOB, target_id=email.pk, dispatched_at=None)  # the publish failed
    assert jobs.sweep() >= 1
    mailbox.wait_for(1, to="reader@acme-pharma.example")
    wait_until(lambda: OutboundEmail.objects.get(pk=email.pk).status == "sent")


def test_resend_leaves_an_email_that_is_being_sent_alone():
    email = stored_email()
    Job.objects.create(kind=JOB, target_id=email.pk, state="running", attempts=1)
    assert email_resend(email=email) is False
    assert job_of(JOB, email.pk).state == "running" and job_of(JOB, email.pk).attempts == 1

    Job.objects.filter(kind=JOB, target_id=email.pk).update(state="failed")
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)
    # Read before commit: once committed the job is published, and the session's live worker
    # may already be running it (CI saw "running" here).
    with transaction.atomic():
        assert email_resend(email=email) is True
        assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.QUEUED
        job = job_of(JOB, email.pk)
        assert job.state == "pending" and job.attempts == 0
        transaction.set_rollback(True)  # never handed to that worker


def test_a_refused_recipient_is_not_quoted_in_any_recorded_error(mailbox, settings, smtp_server):
    """The SMTP server's refusal names the address; the job's and the email's error say
    what happened with the address replaced by a placeholder (erasure cannot miss it)."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }
    settings.MAIL_MAX_ATTEMPTS = 1
    mailbox.refuse.add("reader@acme-pharma.example")
    email = stored_email()
    OutboundEmail.objects.filter(pk=email.pk).update(to="Reader@Acme-Pharma.example")
    assert run_job(JOB, email.pk) == "failed"
    row, job = OutboundEmail.objects.get(pk=email.pk), job_of(JOB, email.pk)
    for error in (row.last_error, job.last_error):
        assert "SMTPRecipientsRefused" in error and "550" in error and "<recipient>" in error
        assert "acme-pharma" not in error.lower()
    assert mailbox.messages == []

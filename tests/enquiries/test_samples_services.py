"""Sample-request services against the real database: dedupe and re-send rules, the mail
log's outcome recorded on the request, stamping retries that give up, staff notification.
Jobs run in this process (`run_job`), never through the broker."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services import outbox as mail
from enquiries.models import SampleRequest
from enquiries.services import samples
from reports.services.documents import RENDER_JOB
from tests.factories import ReportFactory, SampleRequestFactory
from tests.support.jobs import job_of, run_job, site_callbacks

pytestmark = pytest.mark.django_db
Status = SampleRequest.Status


@pytest.fixture
def report():
    return ReportFactory()


def form_data(**overrides):
    return {
        "name": "Jane Doe",
        "email": "jane@acme-pharma.example",
        "company": "Acme Pharma",
        "job_title": "Head of Clinical Operations",
        "country": "DE",
        "phone": "",
        "message": "",
        **overrides,
    }


def create(report, **overrides):
    return samples.sample_request_create(
        report=report,
        form_data=form_data(**overrides),
        attribution={"utm_source": "linkedin", "utm_campaign": "smo-q1"},
        ip="203.0.113.9",
        user_agent="pytest",
    )


def stamped(sample_request, **fields):
    """A request whose stamped copy exists in the private storage."""
    path = storages["private"].save(
        f"samples/test/{sample_request.pk}.pdf", ContentFile(b"%PDF-1.7 stamped copy")
    )
    SampleRequest.objects.filter(pk=sample_request.pk).update(file_path=path, **fields)
    sample_request.refresh_from_db()
    return sample_request


def delivery_emails(sample_request):
    return OutboundEmail.objects.filter(
        related_id=str(sample_request.pk), template=samples.DELIVERY_TEMPLATE
    ).order_by("pk")


def test_new_request_is_received_with_attribution_and_truncated_ip(report):
    request, created = create(report)
    assert created and request.status == Status.RECEIVED
    assert (request.utm_source, request.utm_campaign) == ("linkedin", "smo-q1")
    assert request.ip == "203.0.113.0"
    assert not OutboundEmail.objects.exists()  # no staff notification by default


def test_staff_are_notified_of_each_new_lead_when_configured(report, settings):
    settings.SAMPLE_NOTIFY_EMAIL = "sales@publisher.example"
    request, _ = create(report, message="Need <b>EU</b> numbers")
    note = OutboundEmail.objects.get(template=samples.STAFF_TEMPLATE)
    assert note.to == "sales@publisher.example" and note.reply_to == request.email
    assert note.related == request and note.contact == request.contact
    assert f"{settings.SITE_URL}/admin/enquiries/samplerequest/{request.pk}/change/" in (
        note.body_text
    )
    assert "linkedin" in note.body_text and "Need <b>EU</b> numbers" in note.body_text
    create(report)  # the same lead asking again is not a new lead
    assert OutboundEmail.objects.filter(template=samples.STAFF_TEMPLATE).count() == 1


def test_asking_again_while_in_progress_queues_nothing_new(
    report, django_capture_on_commit_callbacks
):
    first, _ = create(report)
    with django_capture_on_commit_callbacks() as callbacks:
        again, created = create(report, name="Jane M. Doe")
    assert again.pk == first.pk and not created
    assert callbacks == [] and not OutboundEmail.objects.exists()
    assert SampleRequest.objects.count() == 1


def test_asking_again_after_delivery_resends_the_existing_copy_without_stamping(report):
    first, _ = create(report)
    stamped(first, status=Status.EMAILED, emailed_at=timezone.now())
    again, created = create(report)
    again.refresh_from_db()
    assert again.pk == first.pk and not created
    assert again.status == Status.PDF_READY and again.resend_count == 1
    assert again.file_path == first.file_path  # the same stamped copy
    email = delivery_emails(again).get()
    assert email.attachment_path == first.file_path
    assert email.dedupe_key == f"sample:{first.pk}:1"


def test_asking_again_after_the_dedupe_window_is_a_new_request(report, settings):
    first, _ = create(report)
    stamped(first, status=Status.EMAILED)
    SampleRequest.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(hours=settings.SAMPLE_DEDUPE_HOURS, minutes=1)
    )
    second, created = create(report)
    assert created and second.pk != first.pk
    assert second.contact_id == first.contact_id


def test_resend_of_a_request_in_progress_does_nothing(report):
    request = SampleRequestFactory(report=report, status=Status.PDF_READY)
    assert samples.sample_request_resend(sample_request=request) is False
    assert not OutboundEmail.objects.exists()


def test_resend_of_a_failed_request_without_a_copy_stamps_it_again(
    report, django_capture_on_commit_callbacks
):
    request = SampleRequestFactory(report=report, status=Status.FAILED, error="gave up")
    run_job(samples.JOB, request.pk)  # its earlier job, done
    with django_capture_on_commit_callbacks() as callbacks:
        assert samples.sample_request_resend(sample_request=request) is True
    request.refresh_from_db()
    assert request.status == Status.RECEIVED and request.error == ""
    job = job_of(samples.JOB, request.pk)
    assert (job.state, job.attempts) == ("pending", 0)
    assert len(site_callbacks(callbacks)) == 1  # its publish


def test_resend_when_the_stamped_file_is_gone_stamps_a_new_copy(report):
    request = SampleRequestFactory(
        report=report, status=Status.EMAILED, file_path="samples/test/deleted.pdf"
    )
    samples.sample_request_resend(sample_request=request)
    request.refresh_from_db()
    assert request.status == Status.RECEIVED and request.file_path == ""
    assert request.resend_count == 1  # its email will carry a new dedupe key


def sent_through_smtp(settings, smtp_server):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }


def test_sent_email_marks_the_request_emailed(report, settings, smtp_server, mailbox):
    sent_through_smtp(settings, smtp_server)
    request = stamped(SampleRequestFactory(report=report), status=Status.PDF_READY)
    email = samples.sample_request_deliver(sample_request=request)
    run_job(mail.JOB, email.pk)
    request.refresh_from_db()
    email.refresh_from_db()
    assert request.status == Status.EMAILED and request.emailed_at == email.sent_at
    assert mailbox.messages[0]["To"] == request.email


def test_the_stamping_worker_sends_the_email_itself_right_after_commit(
    report, settings, smtp_server, mailbox, django_capture_on_commit_callbacks
):
    sent_through_smtp(settings, smtp_server)
    request = stamped(SampleRequestFactory(report=report), status=Status.PDF_READY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        email = samples.sample_request_deliver(sample_request=request, send_here=True)
    assert len(site_callbacks(callbacks)) == 1  # the send itself, nothing published
    email.refresh_from_db()
    request.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT and job_of(mail.JOB, email.pk).attempts == 1
    assert request.status == Status.EMAILED
    assert [message["To"] for message in mailbox.messages] == [request.email]


def test_a_send_refused_in_the_stamping_worker_is_retried_by_the_mail_worker(
    report, settings, smtp_server, mailbox, django_capture_on_commit_callbacks
):
    sent_through_smtp(settings, smtp_server)
    mailbox.fail_next = 1
    request = stamped(SampleRequestFactory(report=report), status=Status.PDF_READY)
    with django_capture_on_commit_callbacks() as callbacks:
        email = samples.sample_request_deliver(sample_request=request, send_here=True)
    with django_capture_on_commit_callbacks() as retries:
        callbacks[0]()
    email.refresh_from_db()
    job = job_of(mail.JOB, email.pk)
    assert email.status == OutboundEmail.Status.QUEUED and (job.state, job.attempts) == (
        "pending",
        1,
    )
    assert len(retries) == 1 and mailbox.messages == []  # the retry, published with backoff
    run_job(mail.JOB, email.pk)  # what the mail worker does when it is due
    assert [message["To"] for message in mailbox.messages] == [request.email]


def test_final_smtp_failure_marks_the_request_failed_with_the_error(report, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    settings.MAIL_MAX_ATTEMPTS = 2
    request = stamped(SampleRequestFactory(report=report), status=Status.PDF_READY)
    email = samples.sample_request_deliver(sample_request=request)
    run_job(mail.JOB, email.pk)
    request.refresh_from_db()
    assert request.status == Status.PDF_READY  # a retry is still to come
    run_job(mail.JOB, email.pk)
    request.refresh_from_db()
    assert request.status == Status.FAILED and request.failed_at is not None
    assert request.error.startswith("Email not delivered:") and "refused" in request.error.lower()


def test_an_earlier_send_finishing_late_does_not_change_the_status(report, settings, smtp_server):
    sent_through_smtp(settings, smtp_server)
    request = stamped(SampleRequestFactory(report=report), status=Status.EMAILED)
    first = samples.sample_request_deliver(sample_request=request)
    samples.sample_request_resend(sample_request=request)  # send number 1 is now current
    run_job(mail.JOB, first.pk)
    request.refresh_from_db()
    assert request.status == Status.PDF_READY and request.resend_count == 1


def test_other_emails_about_the_request_do_not_change_its_status(report, settings, smtp_server):
    sent_through_smtp(settings, smtp_server)
    settings.SAMPLE_NOTIFY_EMAIL = "sales@publisher.example"
    request, _ = create(report)
    note = OutboundEmail.objects.get(template=samples.STAFF_TEMPLATE)
    run_job(mail.JOB, note.pk)
    request.refresh_from_db()
    assert request.status == Status.RECEIVED


def test_stamping_waits_for_the_base_sample_then_gives_up_with_the_reason(report, settings):
    settings.SAMPLE_PREPARE_MAX_ATTEMPTS = 3
    request = SampleRequestFactory(report=report)  # its report has no rendered sample
    assert run_job(samples.JOB, request.pk).startswith("retry in")
    job = job_of(samples.JOB, request.pk)
    render = Job.objects.get(kind=RENDER_JOB)  # asked for by the first attempt
    assert job.waiting_for == render and job.state == "pending"  # woken when it finishes
    for _ in range(2):  # the render never finishes: the job runs out of attempts
        outcome = run_job(samples.JOB, request.pk)
    assert outcome == "failed"
    request.refresh_from_db()
    assert request.status == Status.FAILED and request.failed_at is not None
    assert request.error.startswith("Stamping failed:") and "not rendered yet" in request.error
    job.refresh_from_db()
    assert job.attempts == 3 and "not rendered yet" in job.last_error

"""The whole journey on real parts: the form posted through the test client, a real Celery
worker on Redis stamping the seed report's rendered sample, real SMTP delivery into aiosmtpd,
the received PDF read with pypdf. Faults: SMTP refusing, a broker outage at post time, the
base sample not rendered yet."""

import io
import re
import time

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from common.models import Job
from common.tasks import job_run, jobs_sweep
from contacts.models import OutboundEmail
from contacts.services import outbox as mail
from enquiries.models import SampleRequest
from enquiries.services import samples
from reports.models import Report, ReportDocument
from reports.services.seed import report_load_seed
from tests.factories import ReportFactory
from tests.support.broker import broker_unreachable
from tests.support.forms import sample_form_data
from tests.support.jobs import job_of
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
Status = SampleRequest.Status


@pytest.fixture
def report(celery_worker):
    """The seed report with its base PDFs ready (rendered once per test process)."""
    report = report_load_seed().report  # loading renders nothing: the bases are installed
    install_rendered_bases(report)
    return report


def post_sample_request(client, report, **overrides):
    data = sample_form_data(**overrides)
    return client.post(reverse("enquiries:request-sample", args=[report.number]), data)


def attachment(message):
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(parts) == 1
    return parts[0]


def pdf_pages(message) -> list[str]:
    reader = PdfReader(io.BytesIO(attachment(message).get_content()))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


def wait_for_status(request, status, worker):
    return wait_until(
        lambda: SampleRequest.objects.filter(pk=request.pk, status=status).first(),
        timeout=60,
        message=f"request {request.pk} never became {status}:\n{worker.tail()}",
    )


def test_visitor_gets_a_personalised_sample_by_email_within_seconds(
    client, report, mailbox, celery_worker
):
    client.get(report.get_absolute_url() + "?utm_source=linkedin&utm_campaign=smo-q1")
    response = post_sample_request(client, report)
    assert response.status_code == 302
    thanks = client.get(response["Location"]).content.decode()
    assert "What happens next" in thanks

    message = mailbox.wait_for(1, to="jane.doe@acme-pharma.example", timeout=60)[0]
    # (a long non-ASCII subject is folded over two header lines)
    assert " ".join(message["Subject"].split()) == f"Your sample: {report.title}"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    buy_url = f"{settings.SITE_URL}/purchase/{report.number}"
    ask_url = f"{settings.SITE_URL}/enquiry/pre-order-enquiry/{report.number}"
    for body in (text, html):
        assert buy_url in body and ask_url in body and "Dear Jane Doe" in body
    assert attachment(message).get_filename() == f"{report.slug}-sample.pdf"

    pages = pdf_pages(message)
    assert len(pages) > 1
    assert " ".join(report.title.split()) in " ".join(pages)
    assert all("Prepared for Jane Doe, Acme Pharma" in page for page in pages)

    request = wait_for_status(SampleRequest.objects.get(), Status.EMAILED, celery_worker)
    assert request.utm_source == "linkedin" and request.utm_campaign == "smo-q1"
    assert request.pdf_ready_at <= request.emailed_at
    email = OutboundEmail.objects.get(template="enquiries/email/sample_request")
    assert email.related == request and email.status == "sent"
    assert job_of(mail.JOB, email.pk).attempts == 1
    status_page = client.get(reverse("enquiries:sample-status", args=[request.public_token]))
    sent_at = timezone.localtime(request.emailed_at).strftime("%H:%M")
    assert re.search(
        rf"Sent to j•••@acme-pharma.example at <time[^>]*>{sent_at}</time>",
        status_page.content.decode(),
    )


def stamp_count(worker, sample_request) -> int:
    """Stampings of this request in the worker's log (its INFO line names the file, which is
    named by the request's id: sequences are never reset, so the id is unique in the log)."""
    path = f"samples/{sample_request.report.number}/{sample_request.pk}.pdf"
    return worker.log_path.read_text(errors="replace").count(f"-> {path}")


def test_asking_again_within_a_day_resends_the_same_copy_without_stamping_again(
    client, report, mailbox, celery_worker
):
    name = f"Dedupe Tester {time.monotonic_ns()}"
    post_sample_request(client, report, name=name)
    first = mailbox.wait_for(1, timeout=60)[0]
    request = wait_for_status(SampleRequest.objects.get(), Status.EMAILED, celery_worker)

    again = post_sample_request(client, report, name=name)
    assert again["Location"].endswith(request.public_token)
    second = mailbox.wait_for(2, timeout=60)[1]
    wait_until(lambda: SampleRequest.objects.get(pk=request.pk).resend_count == 1)
    assert attachment(first).get_content() == attachment(second).get_content()
    assert SampleRequest.objects.count() == 1
    assert OutboundEmail.objects.filter(related_id=str(request.pk)).count() == 2
    assert stamp_count(celery_worker, request) == 1  # one stamping job, two emails


def test_upcoming_report_sample_waits_for_its_render_then_arrives(client, mailbox, celery_worker):
    upcoming = ReportFactory(status=Report.Status.UPCOMING, title="Future Widgets Market, 2026")
    post_sample_request(client, upcoming)  # no base sample yet: the first stamping must wait
    message = mailbox.wait_for(1, timeout=90)[0]
    pages = pdf_pages(message)
    assert all("Prepared for Jane Doe, Acme Pharma" in page for page in pages)
    request = wait_for_status(SampleRequest.objects.get(), Status.EMAILED, celery_worker)
    assert job_of(samples.JOB, request.pk).attempts >= 2  # it met DocumentNotReady and retried
    assert ReportDocument.objects.filter(report=upcoming, kind="sample", status="ready").exists()


def test_an_edited_report_sends_the_new_content_not_the_old_render(
    client, report, mailbox, celery_worker
):
    Report.objects.filter(pk=report.pk).update(title="SMO Market, 2025–2032 (revised edition)")
    post_sample_request(client, report)
    pages = pdf_pages(mailbox.wait_for(1, timeout=90)[0])
    assert "(revised edition)" in " ".join(pages)
    request = wait_for_status(SampleRequest.objects.get(), Status.EMAILED, celery_worker)
    assert job_of(samples.JOB, request.pk).attempts >= 2  # the new content had to render first


def test_smtp_refusing_once_is_retried_and_delivered(client, report, mailbox, celery_worker):
    mailbox.fail_next = 1
    post_sample_request(client, report)
    mailbox.wait_for(1, timeout=60)
    request = wait_for_status(SampleRequest.objects.get(), Status.EMAILED, celery_worker)
    email = OutboundEmail.objects.get(related_id=str(request.pk))
    assert job_of(mail.JOB, email.pk).attempts == 2 and email.status == "sent"
    assert len(mailbox.messages) == 1


def test_final_smtp_failure_shows_in_admin_and_the_resend_action_delivers(
    client, admin_client, report, mailbox, celery_worker
):
    mailbox.fail_next = 3  # the worker's MAIL_MAX_ATTEMPTS
    post_sample_request(client, report)
    request = wait_for_status(SampleRequest.objects.get(), Status.FAILED, celery_worker)
    assert "451" in request.error and request.failed_at is not None
    assert mailbox.messages == []
    changelist = admin_client.get(
        reverse("admin:enquiries_samplerequest_changelist") + "?status__exact=failed"
    )
    assert request.email in changelist.content.decode()
    status_page = client.get(reverse("enquiries:sample-status", args=[request.public_token]))
    assert b"could not send your sample automatically" in status_page.content

    admin_client.post(
        reverse("admin:enquiries_samplerequest_changelist"),
        {"action": "resend_sample", "_selected_action": [request.pk]},
    )
    message = mailbox.wait_for(1, timeout=60)[0]
    assert all("Prepared for Jane Doe" in page for page in pdf_pages(message))
    request = wait_for_status(request, Status.EMAILED, celery_worker)
    assert request.error == "" and request.resend_count == 1


def test_broker_down_at_post_loses_nothing_and_the_first_sweep_delivers(
    client, report, mailbox, celery_worker
):
    with broker_unreachable():
        response = post_sample_request(client, report)
    assert response.status_code == 302  # the visitor is thanked; the job row is the intent
    request = SampleRequest.objects.get()
    job = job_of(samples.JOB, request.pk)
    assert job.state == Job.State.PENDING and job.dispatched_at is None  # never published
    assert request.status == Status.RECEIVED and mailbox.messages == []

    # Beat runs the sweeper every JOB_SWEEP_INTERVAL_SECONDS; here it is sent by hand. A job
    # the broker never got is due at once: no staleness to wait for.
    jobs_sweep.delay()
    message = mailbox.wait_for(1, timeout=60)[0]
    assert message["To"] == request.email
    wait_for_status(request, Status.EMAILED, celery_worker)
    assert settings.CELERY_BEAT_SCHEDULE["jobs-sweep"]["task"] == jobs_sweep.name


def test_the_same_job_delivered_twice_sends_one_email(client, report, mailbox, celery_worker):
    with broker_unreachable():
        post_sample_request(client, report)  # held back, so the test sends its messages
    request = SampleRequest.objects.get()
    job = job_of(samples.JOB, request.pk)
    job_run.apply_async((job.pk,), queue="default")  # e.g. the sweeper and a retry both fire
    job_run.apply_async((job.pk,), queue="default")
    mailbox.wait_for(1, timeout=60)
    wait_for_status(request, Status.EMAILED, celery_worker)
    email = OutboundEmail.objects.get(related_id=str(request.pk))
    wait_until(
        lambda: job_of(mail.JOB, email.pk).state == Job.State.DONE,
        message="the email's job never finished",
    )
    celery_worker.wait_idle()  # both messages handled: anything doubled has been sent by now
    assert len(mailbox.messages) == 1
    assert OutboundEmail.objects.filter(related_id=str(request.pk)).count() == 1
    assert job_of(samples.JOB, request.pk).attempts == 1

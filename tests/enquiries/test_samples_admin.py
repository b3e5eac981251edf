"""Staff's side through the admin: the sample-request list (filters, search, CSV export,
re-send) and the mail log (search, filters, read-only, re-send, link to its lead)."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services import outbox as mail
from enquiries.models import SampleRequest
from enquiries.services import samples
from tests.factories import ContactFactory, ReportFactory, SampleRequestFactory
from tests.support.jobs import job_of

pytestmark = pytest.mark.django_db
Status = SampleRequest.Status
CHANGELIST = "admin:enquiries_samplerequest_changelist"
MAIL_LOG = "admin:contacts_outboundemail_changelist"


@pytest.fixture
def leads():
    report, other = ReportFactory.create_batch(2)
    return {
        "linkedin": SampleRequestFactory(
            report=report,
            contact=ContactFactory(email="ana@pharma-one.example", name="Ana Alvarez"),
            utm_source="linkedin",
            utm_medium="paid",
            utm_campaign="smo-q1",
            country="ES",
        ),
        "gmail": SampleRequestFactory(
            report=other,
            contact=ContactFactory(email="bob@gmail.com", name="Bob Brown", company="=HYPERLINK()"),
            free_mail=True,
            status=Status.FAILED,
            error="Email not delivered: 550",
            country="US",
        ),
    }


def listed(response):
    return {row.pk for row in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=failed", {"gmail"}),
        ("free_mail__exact=1", {"gmail"}),
        ("utm_source=linkedin", {"linkedin"}),
        ("utm_medium=paid", {"linkedin"}),
        ("utm_campaign=smo-q1", {"linkedin"}),
        ("country=ES", {"linkedin"}),
        ("q=bob%40gmail.com", {"gmail"}),
        ("q=Alvarez", {"linkedin"}),
    ],
)
def test_sample_request_list_filters_and_search(admin_client, leads, query, expected):
    response = admin_client.get(reverse(CHANGELIST) + "?" + query)
    assert response.status_code == 200
    assert listed(response) == {leads[name].pk for name in expected}


def test_country_filter_offers_only_countries_leads_came_from(admin_client, leads):
    response = admin_client.get(reverse(CHANGELIST))
    spec = next(f for f in response.context["cl"].filter_specs if f.title == "country")
    assert [name for _, name in spec.lookup_choices] == ["Spain", "United States of America"]


def test_sample_request_list_filters_by_report_and_date(admin_client, leads):
    report = leads["linkedin"].report
    response = admin_client.get(reverse(CHANGELIST) + f"?report__id__exact={report.pk}")
    assert listed(response) == {leads["linkedin"].pk}
    # What the admin's date filter links to: the day's start and the next day's, with the offset.
    start = leads["linkedin"].created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    response = admin_client.get(
        reverse(CHANGELIST),
        {"created_at__gte": start.isoformat(), "created_at__lt": end.isoformat()},
    )
    assert listed(response) == {lead.pk for lead in leads.values()}


def test_csv_export_has_every_lead_column_and_defuses_formulas(admin_client, leads):
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "export_csv", "_selected_action": [lead.pk for lead in leads.values()]},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["Email"] for row in rows] == ["ana@pharma-one.example", "bob@gmail.com"]
    assert rows[0]["utm_campaign"] == "smo-q1" and rows[0]["Free-mail"] == "False"
    assert rows[1]["Company"] == "'=HYPERLINK()"  # never a live formula in a spreadsheet


def test_resend_action_sends_the_stamped_copy_again(admin_client, leads):
    failed = leads["gmail"]
    path = storages["private"].save(f"samples/test/{failed.pk}.pdf", ContentFile(b"%PDF-1.7"))
    SampleRequest.objects.filter(pk=failed.pk).update(file_path=path)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "resend_sample", "_selected_action": [failed.pk, leads["linkedin"].pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert "Re-sending 1 sample(s)." in messages
    assert any("still in progress were left alone" in m for m in messages)
    failed.refresh_from_db()
    assert failed.status == Status.PDF_READY and failed.error == ""
    email = OutboundEmail.objects.get(related_id=str(failed.pk))
    assert email.attachment_path == path and email.to == "bob@gmail.com"


def test_sample_request_page_shows_the_error_and_its_emails(admin_client, leads):
    failed = leads["gmail"]
    path = storages["private"].save(f"samples/test/{failed.pk}.pdf", ContentFile(b"%PDF-1.7"))
    SampleRequest.objects.filter(pk=failed.pk).update(file_path=path)
    failed.refresh_from_db()
    email = samples.sample_request_deliver(sample_request=failed)
    html = admin_client.get(
        reverse("admin:enquiries_samplerequest_change", args=[failed.pk])
    ).content.decode()
    assert "Email not delivered: 550" in html
    assert reverse("admin:contacts_outboundemail_change", args=[email.pk]) in html
    assert reverse("enquiries:sample-status", args=[failed.public_token]) in html
    assert 'name="_save"' not in html  # a lead is a record, not a form to edit


def test_staff_cannot_add_sample_requests_by_hand(admin_client):
    assert admin_client.get(reverse("admin:enquiries_samplerequest_add")).status_code == 403


@pytest.fixture
def mail_log(leads):
    lead = leads["linkedin"]
    sent = OutboundEmail.objects.create(
        to="ana@pharma-one.example",
        from_email="reports@localhost",
        subject="Your sample: Test Widgets",
        template=samples.DELIVERY_TEMPLATE,
        body_text="Dear Ana",
        body_html="<p>Dear <b>Ana</b></p>",
        message_id=OutboundEmail.new_message_id(),
        status=OutboundEmail.Status.SENT,
        related=lead,
    )
    failed = OutboundEmail.objects.create(
        to="bob@gmail.com",
        from_email="reports@localhost",
        subject="Your receipt",
        template="reports/email/receipt",
        body_text="Receipt",
        message_id=OutboundEmail.new_message_id(),
        status=OutboundEmail.Status.FAILED,
        last_error="SMTPRecipientsRefused",
    )
    Job.objects.create(kind=mail.JOB, target_id=sent.pk, state="done", attempts=1)
    Job.objects.create(
        kind=mail.JOB, target_id=failed.pk, state="failed", attempts=6, last_error="refused"
    )
    return {"sent": sent, "failed": failed}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=bob%40gmail.com", {"failed"}),
        ("q=receipt", {"failed"}),
        ("q=sample_request", {"sent"}),
        ("status__exact=failed", {"failed"}),
        ("template=enquiries%2Femail%2Fsample_request", {"sent"}),
    ],
)
def test_mail_log_is_searchable_and_filterable(admin_client, mail_log, query, expected):
    response = admin_client.get(reverse(MAIL_LOG) + "?" + query)
    assert listed(response) == {mail_log[name].pk for name in expected}


def test_mail_log_links_each_email_to_its_lead(admin_client, mail_log, leads):
    html = admin_client.get(reverse(MAIL_LOG)).content.decode()
    lead_url = reverse("admin:enquiries_samplerequest_change", args=[leads["linkedin"].pk])
    assert lead_url in html


def test_mail_log_is_read_only(admin_client, mail_log):
    sent = mail_log["sent"]
    url = reverse("admin:contacts_outboundemail_change", args=[sent.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="_save"' not in html and "sandbox" in html  # HTML shown sandboxed
    admin_client.post(url, {"to": "attacker@example.com", "subject": "changed"})
    sent.refresh_from_db()
    assert sent.to == "ana@pharma-one.example"
    assert admin_client.get(reverse("admin:contacts_outboundemail_add")).status_code == 403
    delete = reverse("admin:contacts_outboundemail_delete", args=[sent.pk])
    assert admin_client.get(delete).status_code == 403


def test_mail_log_resend_action_queues_a_failed_email_again(admin_client, mail_log):
    failed = mail_log["failed"]
    admin_client.post(
        reverse(MAIL_LOG), {"action": "resend", "_selected_action": [failed.pk]}, follow=True
    )
    failed.refresh_from_db()
    assert failed.status == OutboundEmail.Status.QUEUED
    assert job_of(mail.JOB, failed.pk).attempts == 0


def test_mail_log_shows_each_emails_delivery_job(admin_client, mail_log):
    html = admin_client.get(reverse(MAIL_LOG)).content.decode()
    assert "failed after 6 attempt(s): refused" in html


def test_mail_log_resend_skips_an_email_being_sent(admin_client, mail_log):
    sending = mail_log["failed"]
    Job.objects.filter(kind=mail.JOB, target_id=sending.pk).update(state="running")
    response = admin_client.post(
        reverse(MAIL_LOG), {"action": "resend", "_selected_action": [sending.pk]}, follow=True
    )
    assert any("being sent or retried right now" in str(m) for m in response.context["messages"])
    sending.refresh_from_db()
    assert sending.status == OutboundEmail.Status.FAILED
    assert job_of(mail.JOB, sending.pk).attempts == 6

"""Personal data: consent recorded on every lead; a contact's data exported as JSON or erased
by staff allowed to; a scheduled purge of what is past its retention; no personal data in
INFO logs."""

import json
import logging
from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import models
from django.urls import reverse
from django.utils import timezone

from common.files import FILES_JOB
from common.models import Job, PrivateFileDeletion
from contacts.models import Contact, OutboundEmail
from contacts.services.outbox import email_queue, email_resend
from enquiries.models import Enquiry, EnquiryReply, SampleRequest
from enquiries.services import enquiries as enquiry_services
from orders.models import Deliverable, DownloadLink, DownloadLog, Order, StripeEvent
from orders.services import downloads
from privacy.services import personal_data_purge
from tests.enquiries.conftest import form_started_token
from tests.factories import (
    ContactFactory,
    EnquiryFactory,
    LicenceFactory,
    SampleRequestFactory,
    UserFactory,
)
from tests.reports.orders_support import fulfilled_order, path_of, tiny_pdf
from tests.support.jobs import run_job
from tests.support.staff import sales_member, superuser
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

EMAIL = "maria.lopez@clinsite.example"
NAME = "Maria Lopez"
COMPANY = "Clinsite Partners"


def lead(**overrides):
    return {
        "name": NAME,
        "email": EMAIL,
        "company": COMPANY,
        "job_title": "VP Strategy",
        "country": "ES",
        "phone": "+34 912 345 678",
        "consent": "on",
        "form_started": form_started_token(),
    } | overrides


@pytest.fixture
def person(client):
    """Maria's whole journey: a sample request (stamped PDF in storage), an enquiry with a
    staff reply and notes, an order with its stamped report, link email, download and
    Stripe event."""
    report = LicenceFactory(kind="single").report
    client.post(reverse("enquiries:request-sample", args=[report.number]), lead())
    client.post(
        reverse("enquiries:pre-order-enquiry", args=[report.number]),
        lead(type="pricing", question="Maria here: what does it cost for Clinsite?"),
    )
    sample = SampleRequest.objects.get()
    sample_path = storages["private"].save("samples/test/maria.pdf", ContentFile(tiny_pdf()))
    SampleRequest.objects.filter(pk=sample.pk).update(file_path=sample_path)
    enquiry = Enquiry.objects.get()
    Enquiry.objects.filter(pk=enquiry.pk).update(staff_notes="Maria prefers calls")
    enquiry_services.enquiry_update(
        enquiry=enquiry, actor=None, status="waiting", owner=None, staff_notes="Maria: call"
    )
    enquiry_services.enquiry_reply_send(
        enquiry=enquiry, author=UserFactory(), subject="Your price, Maria", body="Dear Maria,"
    )
    order, url = fulfilled_order(report, email=EMAIL, company=COMPANY)
    Order.objects.filter(pk=order.pk).update(
        payment_method_type="us_bank_account",
        payment_method_description="ACH Direct Debit (Banco Maria account ending 6789)",
    )
    downloads.download_link_send(order=order, first=True)
    DownloadLog.objects.create(
        link=DownloadLink.objects.first(), order=order, ip="198.51.100.0", user_agent="Firefox"
    )
    StripeEvent.objects.create(
        stripe_id="evt_test_1",
        type="checkout.session.completed",
        order=order,
        status="processed",
        payload={"data": {"object": {"customer_details": {"email": EMAIL, "name": NAME}}}},
    )
    # An event for a session that never became an order: found by the address alone.
    StripeEvent.objects.create(
        stripe_id="evt_test_unmatched",
        type="checkout.session.expired",
        status="ignored",
        payload={"data": {"object": {"customer_details": {"email": EMAIL.upper(), "name": NAME}}}},
    )
    # Errors recorded before errors were scrubbed when written, quoting the address.
    refusal = f"SMTPRecipientsRefused: {{'{EMAIL}': (550, b'5.1.1 <{EMAIL}>: rejected')}}"
    Job.objects.create(kind="mail.send", target_id=10**9, state="failed", last_error=refusal)
    OutboundEmail.objects.filter(to=EMAIL).update(last_error=refusal)
    SampleRequest.objects.update(error=f"Email not delivered: {refusal}")
    return {
        "contact": Contact.objects.get(email=EMAIL),
        "order": order,
        "download": path_of(url),
        "files": [sample_path, order.deliverable.path],
    }


def action(client, name, contact, **extra):
    data = {"action": name, "_selected_action": [contact.pk], **extra}
    return client.post("/admin/contacts/contact/", data)


def text_values_mentioning(*needles) -> list[str]:
    """Every text column of every model, searched for the needles."""
    found = []
    for model in apps.get_models():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for row in model._default_manager.values("pk", *fields):
            for field in fields:
                value = str(row[field] or "")
                if any(n.lower() in value.lower() for n in needles):
                    found.append(f"{model._meta.label}.{field} #{row['pk']}: {value[:80]}")
    return found


# --- Consent ---------------------------------------------------------------------------------


def test_every_lead_records_the_consent_wording_and_its_time(client, person):
    sample, enquiry = SampleRequest.objects.get(), Enquiry.objects.get()
    for lead_row in (sample, enquiry):
        assert lead_row.consent_version == "2025-03"
        assert timezone.now() - lead_row.consent_at < timedelta(minutes=1)


# --- Export ----------------------------------------------------------------------------------


def test_staff_allowed_to_export_get_the_contacts_data_as_json(client, person):
    client.force_login(superuser())
    response = action(client, "export_personal_data", person["contact"])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment;" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["contact"]["email"] == EMAIL and data["contact"]["phone"] == "+34912345678"
    assert [r["company"] for r in data["sample_requests"]] == [COMPANY]
    assert data["enquiries"][0]["question"].startswith("Maria here")
    assert data["enquiries"][0]["replies"][0]["subject"] == "Your price, Maria"
    assert data["enquiries"][0]["consent_at"]
    assert data["orders"][0]["buyer_email"] == EMAIL
    assert data["orders"][0]["downloads"][0]["user_agent"] == "Firefox"
    assert data["orders"][0]["payment_method_description"].endswith("account ending 6789)")
    assert {e["subject"] for e in data["emails"]} >= {"Your price, Maria"}
    # The download email is listed, its live link is not.
    token = person["download"].rsplit("/", 1)[-1]
    assert token not in response.content.decode()


def test_export_is_one_contact_at_a_time(client, person):
    other = Contact.objects.create(email="other@example.com", name="Other")
    client.force_login(superuser())
    data = {"action": "export_personal_data", "_selected_action": [person["contact"].pk, other.pk]}
    response = client.post("/admin/contacts/contact/", data, follow=True)
    assert "Select exactly one contact" in response.content.decode()


@pytest.mark.parametrize("name", ["export_personal_data", "erase_personal_data"])
def test_sales_may_neither_export_nor_erase(client, person, name):
    client.force_login(sales_member())
    assert action(client, name, person["contact"], confirm="yes").status_code == 403
    assert Contact.objects.get(pk=person["contact"].pk).erased_at is None


def test_the_export_permission_alone_is_enough_to_export(client, person):
    staff = UserFactory(username="dpo")
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_contact", "export_contact"])
    )
    client.force_login(staff)
    assert action(client, "export_personal_data", person["contact"]).status_code == 200
    assert action(client, "erase_personal_data", person["contact"]).status_code == 403


# --- Erasure ---------------------------------------------------------------------------------


def test_erasure_asks_first_and_changes_nothing_until_confirmed(client, person):
    client.force_login(superuser())
    page = action(client, "erase_personal_data", person["contact"])
    assert page.status_code == 200 and "This cannot be undone" in page.content.decode()
    assert Contact.objects.get(pk=person["contact"].pk).email == EMAIL


def test_erasure_leaves_nothing_that_names_the_person(
    client, person, django_capture_on_commit_callbacks
):
    order = person["order"]
    client.force_login(superuser())
    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, "erase_personal_data", person["contact"], confirm="yes")
    assert response.status_code == 302
    # The files go in a job of their own (retried while the storage fails).
    assert run_job(FILES_JOB, PrivateFileDeletion.objects.get().pk) == "done"

    assert text_values_mentioning(EMAIL, NAME, COMPANY, "Maria", "+34912345678") == []
    contact = Contact.objects.get(pk=person["contact"].pk)
    assert contact.erased_at is not None and contact.email.endswith("@erased.invalid")

    # Leads stay, anonymised, for the statistics.
    sample, enquiry = SampleRequest.objects.get(), Enquiry.objects.get()
    assert (sample.report_id, sample.country, sample.file_path) == (order.report_id, "", "")
    assert enquiry.question == "(erased)" and enquiry.status == "answered"
    assert EnquiryReply.objects.get().body == "(erased)"
    assert not Enquiry.history.filter(staff_notes__icontains="call").exists()
    # Personalised PDFs are gone from private storage.
    assert not any(storages["private"].exists(path) for path in person["files"])
    assert not Deliverable.objects.exists()
    # Orders stay as accounting rows.
    order.refresh_from_db()
    assert (order.reference, order.amount_paid, order.status) == (
        order.reference,
        order.price,
        Order.Status.FULFILLED,
    )
    assert (order.buyer_name, order.buyer_company) == ("", "")
    assert (order.payment_method_type, order.payment_method_description) == ("us_bank_account", "")
    assert client.get(person["download"]).status_code == 410
    # Mail-log bodies and Stripe payloads are dropped.
    assert set(OutboundEmail.objects.values_list("body_text", flat=True)) == {""}
    assert [e.payload for e in StripeEvent.objects.all()] == [{}, {}]
    assert "<[erased]>" in Job.objects.get(target_id=10**9).last_error
    assert DownloadLog.objects.get().ip == ""


def test_an_erased_persons_queued_email_is_never_sent(person):
    from privacy.services import contact_erase

    queued = email_queue(to=EMAIL, template="tests/email/test_message", context={})
    contact_erase(contact=person["contact"])
    queued.refresh_from_db()
    assert queued.status == OutboundEmail.Status.FAILED and queued.to.endswith(".invalid")
    assert email_resend(email=queued) is False  # its text is gone: nothing to send
    queued.refresh_from_db()
    assert queued.status == OutboundEmail.Status.FAILED


# --- Retention -------------------------------------------------------------------------------


def age(model, days: int, *fields, **filters):
    when = timezone.now() - timedelta(days=days)
    model.objects.filter(**filters).update(**{field: when for field in fields})


def test_the_purge_removes_what_is_past_each_retention_setting(person, settings):
    report = person["order"].report
    new_contact = Contact.objects.create(email="new@example.com", name="New")
    recent = SampleRequest.objects.create(
        contact=new_contact,
        report=report,
        email="new@example.com",
        name="New",
        company="N",
        consent_version="2025-03",
        consent_at=timezone.now(),
    )
    old_sample_file = SampleRequest.objects.get(contact=person["contact"]).file_path
    age(SampleRequest, 800, "created_at", "updated_at", contact=person["contact"])
    age(Enquiry, 800, "created_at", "updated_at")
    age(OutboundEmail, 100, "created_at")
    age(StripeEvent, 100, "received_at")
    age(Enquiry.history.model, 800, "history_date")
    age(DownloadLog, 100, "downloaded_at")
    AccessLog.objects.create(username="anna", ip_address="198.51.100.1", user_agent="x")
    age(AccessLog, 100, "attempt_time")
    stale = SessionStore()
    stale["first_touch"] = {"utm_source": "x"}
    stale.set_expiry(-60)
    stale.save()
    OutboundEmail.objects.update(status=OutboundEmail.Status.SENT)

    counts = personal_data_purge()

    assert counts["sample_requests"] == 1 and counts["enquiries"] == 1
    assert list(SampleRequest.objects.all()) == [recent]
    assert not Enquiry.objects.exists() and not EnquiryReply.objects.exists()
    assert not Enquiry.history.exists()
    for deletion in PrivateFileDeletion.objects.all():
        assert run_job(FILES_JOB, deletion.pk) == "done"
    assert not storages["private"].exists(old_sample_file)
    # The contact stays: their order is an accounting record.
    assert Contact.objects.filter(email=EMAIL).exists()
    assert not OutboundEmail.objects.exclude(body_removed_at__isnull=False).filter(
        created_at__lt=timezone.now() - timedelta(days=90)
    )
    assert set(OutboundEmail.objects.values_list("body_text", flat=True)) == {""}
    assert StripeEvent.objects.get(stripe_id="evt_test_1").payload == {}
    assert DownloadLog.objects.get().user_agent == ""
    assert not AccessLog.objects.exists()
    assert not Session.objects.filter(session_key=stale.session_key).exists()
    assert Order.objects.get().buyer_email == EMAIL  # orders are not purged

    assert personal_data_purge() == dict.fromkeys(counts, 0)  # nothing left to do


def test_the_purge_starts_again_a_file_deletion_that_gave_up(tmp_path):
    """Storage failed through every attempt: the daily purge tries again, so the files go
    in the end."""
    path = storages["private"].save("samples/test/gave-up.pdf", ContentFile(tiny_pdf()))
    deletion = PrivateFileDeletion.objects.create(paths=[path])
    Job.objects.create(kind=FILES_JOB, target_id=deletion.pk, state="failed", attempts=100)
    forgotten = PrivateFileDeletion.objects.create(paths=[path])  # its failed job was purged
    assert personal_data_purge()["file_deletions_restarted"] == 2
    assert set(Job.objects.filter(kind=FILES_JOB).values_list("state", flat=True)) == {"pending"}
    assert run_job(FILES_JOB, deletion.pk) == "done" and run_job(FILES_JOB, forgotten.pk) == "done"
    assert not storages["private"].exists(path)
    assert personal_data_purge()["file_deletions_restarted"] == 0


def test_the_purge_keeps_what_is_within_retention(person):
    age(OutboundEmail, 10, "created_at")
    assert personal_data_purge()["mail_bodies"] == 0
    assert OutboundEmail.objects.exclude(body_text="").count() == OutboundEmail.objects.count()
    assert SampleRequest.objects.count() == 1 and Enquiry.objects.count() == 1


def test_contacts_left_with_nothing_are_deleted_after_the_lead_retention():
    Contact.objects.create(email="gone@example.com", name="Gone")
    age(Contact, 800, "created_at", "updated_at")
    assert personal_data_purge()["contacts"] == 1
    assert not Contact.objects.exists()


def test_a_dropped_body_is_never_sent_again(person, client):
    email = OutboundEmail.objects.first()
    age(OutboundEmail, 100, "created_at")
    OutboundEmail.objects.update(status=OutboundEmail.Status.SENT)
    personal_data_purge()
    email.refresh_from_db()
    assert email.body_removed_at and email_resend(email=email) is False
    email.refresh_from_db()
    assert email.status == "sent"


def test_the_privacy_notice_states_the_periods_the_purge_and_the_sweeper_apply(client, settings):
    settings.MAIL_BODY_RETENTION_DAYS, settings.JOB_KEEP_FAILED_DAYS = 91, 31
    page = client.get(reverse("privacy")).content.decode()
    assert "emails we send you: 91 days" in page
    assert "background tasks that failed" in page and "for example): 31 days" in page


def test_the_purge_is_scheduled_with_its_own_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["privacy-purge"]
    assert entry["task"] == "enquiries.tasks.privacy_purge"
    assert entry["schedule"] == settings.PRIVACY_PURGE_INTERVAL_SECONDS


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_purge(celery_worker):
    from privacy.tasks import privacy_purge

    Contact.objects.create(email="gone@example.com", name="Gone")
    age(Contact, 800, "created_at", "updated_at")
    privacy_purge.delay()
    wait_until(
        lambda: not Contact.objects.exists(),
        timeout=60,
        message=f"the purge did not run:\n{celery_worker.tail()}",
    )


# --- Logs ------------------------------------------------------------------------------------


def test_stamping_a_sample_logs_no_name_or_company_at_info(caplog):
    from reports.models import ReportDocument
    from reports.services import documents

    report = LicenceFactory().report
    for document in documents.report_documents_rerender(report=report):
        path = storages["private"].save(f"tests/base-{document.pk}.pdf", ContentFile(tiny_pdf()))
        ReportDocument.objects.filter(pk=document.pk).update(
            status="ready", file_path=path, page_count=2
        )
    with caplog.at_level(logging.INFO):
        path = documents.sample_copy_create(
            report=report,
            name=NAME,
            company=COMPANY,
            prepared_on=timezone.localdate(),
            path_hint="samples/1/2.pdf",
        )
    assert "Stamped a copy" in caplog.text and path in caplog.text
    assert NAME not in caplog.text and COMPANY not in caplog.text


def test_sample_files_are_named_by_id_not_by_person(client):
    from enquiries.services.samples import _path_hint

    report = LicenceFactory().report
    client.post(reverse("enquiries:request-sample", args=[report.number]), lead())
    assert "maria" not in _path_hint(SampleRequest.objects.get()).lower()


def _stamping_target(kind: str, report):
    """A sample request, or a staff reply with a sample, ready to stamp; made without its
    job (the session's live worker must not race this test's own run). Returns (row, job
    kind, storage folder, file name prefix)."""
    contact = ContactFactory(email=EMAIL, name=NAME, company=COMPANY)
    if kind == "sample":
        row = SampleRequestFactory(report=report, contact=contact)
        return row, "sample.prepare", f"samples/{report.number}", f"{row.pk}"
    enquiry = EnquiryFactory(contact=contact, report=report, name=NAME, company=COMPANY)
    row = EnquiryReply.objects.create(
        enquiry=enquiry, subject="Your sample", body="Dear Maria", attach_sample=True
    )
    return row, enquiry_services.REPLY_JOB, "enquiry-replies", f"{enquiry.pk}-{row.pk}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["sample", "reply"])
def test_a_sample_stamped_while_its_person_is_erased_is_deleted_not_kept(kind):
    """The stamping job reads its row before the erasure commits, stamps the PDF, and
    waits for the row the erasure holds; once the erasure commits it finds the row failed,
    and its own PDF is deleted instead of left in private storage."""
    import threading

    from django.db import connection, transaction

    from privacy.services import contact_erase
    from reports.models import ReportDocument
    from reports.services import documents

    report = LicenceFactory().report
    for document in documents.report_documents_rerender(report=report):
        path = storages["private"].save(f"tests/base-{document.pk}.pdf", ContentFile(tiny_pdf()))
        ReportDocument.objects.filter(pk=document.pk).update(
            status="ready", file_path=path, page_count=2
        )
    row, job_kind, folder, prefix = _stamping_target(kind, report)
    storage = storages["private"]

    def stamped() -> set[str]:
        names = storage.listdir(folder)[1] if storage.exists(folder) else []
        return {name for name in names if name.startswith(prefix)}

    for name in stamped():  # the storage folder outlives test runs
        storage.delete(f"{folder}/{name}")
    erased, commit = threading.Event(), threading.Event()

    def erase():
        with transaction.atomic():
            contact_erase(contact=Contact.objects.get(email=EMAIL))
            erased.set()
            commit.wait(30)
        connection.close()

    outcome = []

    def stamp():
        outcome.append(run_job(job_kind, row.pk))
        connection.close()

    eraser, stamper = threading.Thread(target=erase), threading.Thread(target=stamp)
    eraser.start()
    assert erased.wait(30)
    stamper.start()
    wait_until(stamped, timeout=30)  # the PDF exists; the job now waits for the row lock
    commit.set()
    eraser.join(30), stamper.join(30)

    assert outcome == ["done"]
    row.refresh_from_db()
    assert row.status == "failed"
    assert (row.file_path if kind == "sample" else row.sample_path) == ""
    # Its deletion job was published after commit: run here, or by the session's live worker.
    for deletion in PrivateFileDeletion.objects.all():
        assert run_job(FILES_JOB, deletion.pk) in ("done", "skipped")
    wait_until(lambda: not stamped(), timeout=30)
    assert not OutboundEmail.objects.exclude(to__endswith=".invalid").exists()

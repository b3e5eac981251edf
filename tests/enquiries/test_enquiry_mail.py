"""Enquiry emails delivered for real: a Celery worker process sends them over SMTP into
aiosmtpd. Checks who they come from, where replies go, and that visitor text is quoted
escaped in HTML and as written in plain text."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from contacts.models import OutboundEmail
from enquiries.models import Enquiry
from enquiries.services import enquiries as services
from tests.enquiries.conftest import form_started_token
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Is <b>8 users</b> & two sites OK?\nThanks"


def parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    return text, html


def post_enquiry(client, report):
    return client.post(
        reverse("enquiries:pre-order-enquiry", args=[report.number]),
        {
            "type": "licence",
            "licence": report.licences.get(kind="multi").pk,
            "question": QUESTION,
            "name": "Maria Lopez",
            "email": "maria@clinsite.example",
            "company": "Clinsite Partners",
            "job_title": "VP Strategy",
            "country": "ES",
            "consent": "on",
            "form_started": form_started_token(),
        },
    )


def test_visitor_gets_an_acknowledgement_quoting_the_question_and_the_promise(
    celery_worker, mailbox, client, report, sales_user, settings
):
    settings.DEFAULT_FROM_EMAIL = "Reliable Research IQ <reports@reliable-research.example>"
    assert post_enquiry(client, report).status_code == 302
    message = mailbox.wait_for(1, to="maria@clinsite.example")[0]
    assert message["From"] == "Reliable Research IQ <reports@reliable-research.example>"
    assert "anna@reliable-research.example" in message["Reply-To"]
    assert "within one business day" in message["Subject"]
    text, html = parts(message)
    assert QUESTION in text
    assert "Is &lt;b&gt;8 users&lt;/b&gt; &amp; two sites OK?<br>Thanks" in html
    assert "<b>8 users</b>" not in html
    assert "by " in text and "at the latest" in text
    enquiry = Enquiry.objects.get()
    assert enquiry.reference in text


def test_sales_inbox_is_notified_with_a_link_to_the_enquiry_in_admin(
    celery_worker, mailbox, client, report, sales_user, settings
):
    settings.SALES_INBOX_EMAIL = "sales@reliable-research.example"
    settings.SITE_URL = "https://reports.example"
    post_enquiry(client, report)
    message = mailbox.wait_for(1, to="sales@reliable-research.example")[0]
    enquiry = Enquiry.objects.get()
    text, html = parts(message)
    admin_url = f"https://reports.example/admin/enquiries/enquiry/{enquiry.pk}/change/"
    assert admin_url in text and admin_url in html
    assert "Assigned to: Anna Berg" in text
    assert enquiry.reference in message["Subject"] and "Licence question" in message["Subject"]
    assert "&lt;b&gt;8 users&lt;/b&gt;" in html


def test_staff_reply_arrives_from_the_publisher_with_reply_to_the_author(
    celery_worker, mailbox, report, sales_user, settings
):
    settings.DEFAULT_FROM_EMAIL = "Reliable Research IQ <reports@reliable-research.example>"
    enquiry = services.enquiry_create(
        report=report,
        contact_details={"email": "maria@clinsite.example", "name": "Maria <i>Lopez</i>"},
        enquiry_type="pricing",
        question=QUESTION,
    )
    reply = services.enquiry_reply_send(
        enquiry=enquiry,
        author=sales_user,
        subject="Your price",
        body="Dear Maria,\n\nFor <8> users: see below.",
        licence=report.licences.get(kind="multi"),
        quoted_price=Decimal("5000"),
    )
    messages = mailbox.wait_for(2, to="maria@clinsite.example")
    message = next(m for m in messages if m["Subject"] == "Your price")
    assert message["From"] == "Reliable Research IQ <reports@reliable-research.example>"
    assert (
        message["Reply-To"] == '"Anna Berg (Reliable Research IQ)" <anna@reliable-research.example>'
    )
    text, html = parts(message)
    assert "For <8> users: see below." in text and "> Is <b>8 users</b> & two sites OK?" in text
    assert "For &lt;8&gt; users: see below." in html and "For <8> users" not in html
    assert "USD 5,000.00" in text and reply.purchase_url in text
    assert "Kind regards,\nAnna Berg" in text
    wait_until(lambda: OutboundEmail.objects.get(pk=reply.email_id).status == "sent")
    enquiry.refresh_from_db()
    assert enquiry.first_response_at is not None


def test_thread_in_admin_shows_the_delivered_reply(
    celery_worker, mailbox, client, report, sales_user
):
    enquiry = services.enquiry_create(
        report=report,
        contact_details={"email": "maria@clinsite.example", "name": "Maria"},
        enquiry_type="pricing",
        question="Price?",
    )
    reply = services.enquiry_reply_send(
        enquiry=enquiry, author=sales_user, subject="Price", body="USD 5,900."
    )
    wait_until(lambda: OutboundEmail.objects.get(pk=reply.email_id).status == "sent")
    client.force_login(sales_user)
    html = client.get(reverse("admin:enquiries_enquiry_change", args=[enquiry.pk])).content
    assert b"enq-dl-sent" in html and b"USD 5,900." in html


def test_enquirers_hear_once_when_their_upcoming_report_is_published(
    celery_worker, mailbox, report
):
    report.status = "upcoming"
    report.save()
    for email, question in [
        ("maria@clinsite.example", "When?"),
        ("maria@clinsite.example", "Price?"),
        ("kenji@nihon.example", "When?"),
    ]:
        services.enquiry_create(
            report=report,
            contact_details={"email": email, "name": "Reader"},
            enquiry_type="pre_order",
            question=question,
        )
    mailbox.wait_for(6)  # three acknowledgements, three notices to the sales inbox
    for _ in range(2):  # published, and the publication saved (and announced) a second time
        with transaction.atomic():
            report.status = "published"
            report.save()
            services.enquiries_notify_report_published_on_commit(report=report)
        celery_worker.wait_idle()

    def notices():
        return [m for m in mailbox.messages if m["Subject"].startswith("Now published")]

    received = wait_until(lambda: len(notices()) >= 2 and notices())
    celery_worker.wait_idle()  # every job finished: a duplicate would be here by now
    assert sorted(m["To"] for m in notices()) == ["kenji@nihon.example", "maria@clinsite.example"]
    assert report.get_absolute_url() in parts(received[0])[0]


def test_publication_job_from_the_worker_notifies_after_commit(celery_worker, mailbox, report):
    report.status = "upcoming"
    report.save()
    services.enquiry_create(
        report=report,
        contact_details={"email": "lena@sitecare.example", "name": "Lena"},
        enquiry_type="pre_order",
        question="When?",
    )
    mailbox.wait_for(2)  # acknowledgement and sales notice
    with transaction.atomic():
        report.status = "published"
        report.save()
        services.enquiries_notify_report_published_on_commit(report=report)
    messages = mailbox.wait_for(2, to="lena@sitecare.example")
    assert any(m["Subject"].startswith("Now published") for m in messages)


def test_reply_with_a_freshly_stamped_sample_is_delivered_with_the_pdf(
    celery_worker, mailbox, sales_user
):
    from reports.services.seed import report_load_seed
    from tests.reports.pdf_support import normalise, pdf_pages_text
    from tests.support.renders import install_rendered_bases

    report = report_load_seed().report  # loading renders nothing: the bases are installed
    install_rendered_bases(report)
    enquiry = services.enquiry_create(
        report=report,
        contact_details={
            "email": "priya@trialworks.example",
            "name": "Priya Nair",
            "company": "TrialWorks",
        },
        enquiry_type="licence",
        question="Can I see a sample?",
    )
    reply = services.enquiry_reply_send(
        enquiry=enquiry,
        author=sales_user,
        subject="Your sample",
        body="Attached.",
        attach_sample=True,
    )
    try:
        received = mailbox.wait_for(2, to="priya@trialworks.example", timeout=60)
    except AssertionError:
        reply.refresh_from_db()
        raise AssertionError(f"reply {reply.status}: {reply.last_error}") from None
    message = next(m for m in received if m["Subject"] == "Your sample")
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "1780960-sample.pdf"
    pages = pdf_pages_text(attachment.get_content())
    assert all("Prepared for Priya Nair, TrialWorks" in normalise(text) for text in pages)
    reply.refresh_from_db()
    assert reply.status == "queued" and reply.sample_path


def test_publishing_an_upcoming_report_in_admin_tells_its_enquirers(
    celery_worker, mailbox, report, client, superuser
):
    from tests.reports.test_admin import report_form

    report.status = "upcoming"
    report.save()
    services.enquiry_create(
        report=report,
        contact_details={"email": "omar@trialsites.example", "name": "Omar"},
        enquiry_type="pre_order",
        question="When will it be out?",
    )
    mailbox.wait_for(2)  # acknowledgement and sales notice
    client.force_login(superuser)
    data = report_form(
        report.category,
        number=str(report.number),
        slug=report.slug,
        title=report.title,
        status="published",
    )
    # Keep the report's licences: the form posts them back as they are.
    licences = list(report.licences.order_by("position"))
    data |= {
        "licences-TOTAL_FORMS": str(len(licences)),
        "licences-INITIAL_FORMS": str(len(licences)),
    }
    for i, licence in enumerate(licences):
        data |= {
            f"licences-{i}-id": str(licence.pk),
            f"licences-{i}-report": str(report.pk),
            f"licences-{i}-kind": licence.kind,
            f"licences-{i}-description": licence.description,
            f"licences-{i}-price": str(licence.price),
            f"licences-{i}-price_eur": str(licence.price_eur),
            f"licences-{i}-price_gbp": str(licence.price_gbp),
            f"licences-{i}-is_active": "on",
            f"licences-{i}-position": str(licence.position),
            f"licences-{i}-max_users": str(licence.max_users or ""),
        }
    response = client.post(reverse("admin:reports_report_change", args=[report.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]

    def notices():
        return [
            m
            for m in mailbox.to("omar@trialsites.example")
            if m["Subject"].startswith("Now published")
        ]

    wait_until(notices, timeout=30, message="no publication notice arrived")
    celery_worker.wait_idle()  # every job finished: a duplicate would be here by now
    assert len(notices()) == 1

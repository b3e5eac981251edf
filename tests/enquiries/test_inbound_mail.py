"""Customers' replies read back into their enquiry's thread from a real IMAP server: a private
Dovecot (tests/support/dovecot.py) that each message is delivered to by IMAP APPEND, read by
the same poll Celery beat runs (enquiries/services/inbound_mailbox.py)."""

import io
import logging
import re
import zipfile
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.files.storage import storages
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.models import OutboundEmail
from enquiries.models import Enquiry, InboundEmail
from enquiries.services import enquiries as services
from enquiries.services.inbound import inbound_message_process
from enquiries.services.inbound_mailbox import inbound_mailbox_poll
from enquiries.services.mail_thread import thread_address, thread_address_parse
from enquiries.tasks import inbound_mailbox_poll as inbound_mailbox_poll_task

INBOUND = "sales@pub.example"
CUSTOMER = "maria@clinsite.example"


@pytest.fixture
def inbound(dovecot_server, settings):
    """The site reading the test's own Dovecot mailbox, emptied for each test."""
    dovecot_server.clear()
    settings.INBOUND_ADDRESS = INBOUND
    settings.INBOUND_IMAP_URL = dovecot_server.url()
    settings.INBOUND_IMAP_TIMEOUT_SECONDS = 10
    settings.INBOUND_MAX_ATTACHMENT_MB = 1
    settings.INBOUND_MAX_MESSAGE_MB = 2
    settings.INBOUND_PROCESSED_FOLDER = ""
    settings.DEFAULT_FROM_EMAIL = "Reliable Research IQ <reports@pub.example>"
    return dovecot_server


@pytest.fixture
def enquiry(report, sales_user):
    return services.enquiry_create(
        report=report,
        contact_details={"email": CUSTOMER, "name": "Maria Lopez", "company": "Clinsite"},
        enquiry_type="pricing",
        question="What does the multi-user licence cost?",
    )


@pytest.fixture
def staff_reply(enquiry, sales_user, inbound):
    return services.enquiry_reply_send(
        enquiry=enquiry, author=sales_user, subject="Your price", body="USD 5,900 for 5 users."
    )


def customer_message(
    *, to, body, sender=CUSTOMER, subject="Re: Your price", in_reply_to="", references=""
):
    message = EmailMessage()
    message["From"] = f"Maria Lopez <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="clinsite.example")
    message["Date"] = "Mon, 07 Dec 2026 10:15:00 +0100"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body)
    return message


REPLY_BODY = """Thanks Anna, 5 users is right. Can we pay by invoice?

Best regards,
Maria Lopez
VP Strategy, Clinsite

On Fri, 4 Dec 2026 at 16:02, Anna Berg <sales@pub.example> wrote:
> Dear Maria,
> USD 5,900 for 5 users.
"""


def thread_html(client, user, enquiry) -> str:
    client.force_login(user)
    response = client.get(reverse("admin:enquiries_enquiry_change", args=[enquiry.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- Outgoing: the thread's address and headers ---------------------------------------------


def test_staff_reply_has_the_threads_signed_reply_to_and_threading_headers(staff_reply, enquiry):
    email = OutboundEmail.objects.get(pk=staff_reply.email_id)
    acknowledgement = OutboundEmail.objects.get(template="enquiries/email/enquiry_acknowledgement")
    address = thread_address(enquiry)
    assert re.fullmatch(rf"sales\+e{enquiry.pk}\.[0-9a-f]{{12}}@pub\.example", address)
    assert email.reply_to == f'"Anna Berg (Reliable Research IQ)" <{address}>'
    assert email.message_id.endswith("@pub.example>")
    assert email.in_reply_to == acknowledgement.message_id
    assert email.references == acknowledgement.message_id
    second = services.enquiry_reply_send(
        enquiry=enquiry, author=staff_reply.author, subject="And", body="Also a PO is fine."
    )
    second_email = OutboundEmail.objects.get(pk=second.email_id)
    assert second_email.in_reply_to == email.message_id
    assert second_email.references == f"{acknowledgement.message_id} {email.message_id}"


def test_thread_address_signature_cannot_be_forged(enquiry, inbound):
    address = thread_address(enquiry)
    assert thread_address_parse(address) == (enquiry.pk, True)
    assert thread_address_parse(address.upper()) == (enquiry.pk, True)
    other = address.replace(f"+e{enquiry.pk}.", f"+e{enquiry.pk + 1}.")
    assert thread_address_parse(other) == (enquiry.pk + 1, False)
    assert thread_address_parse(address.replace("@pub.example", "@elsewhere.example")) == (
        None,
        False,
    )


@pytest.mark.django_db(transaction=True)
def test_reply_sent_over_smtp_carries_the_headers_and_the_owner_hears_of_the_answer(
    celery_worker, mailbox, inbound, report, sales_user
):
    enquiry = services.enquiry_create(
        report=report,
        contact_details={"email": CUSTOMER, "name": "Maria Lopez"},
        enquiry_type="pricing",
        question="Price?",
    )
    reply = services.enquiry_reply_send(
        enquiry=enquiry, author=sales_user, subject="Your price", body="USD 5,900."
    )
    sent = next(m for m in mailbox.wait_for(2, to=CUSTOMER) if m["Subject"] == "Your price")
    email = OutboundEmail.objects.get(pk=reply.email_id)
    assert thread_address(enquiry) in sent["Reply-To"]
    assert sent["Message-ID"] == email.message_id
    assert sent["In-Reply-To"] == email.in_reply_to and email.in_reply_to in sent["References"]

    inbound.append(
        customer_message(
            to=sent["Reply-To"], body=REPLY_BODY, in_reply_to=sent["Message-ID"]
        ).as_bytes()
    )
    assert inbound_mailbox_poll() == {"matched": 1}
    notice = mailbox.wait_for(1, to=sales_user.email)[0]
    assert enquiry.reference in notice["Subject"] and "Maria Lopez replied" in notice["Subject"]
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "Can we pay by invoice?" in text and "wrote:" not in text
    assert f"/admin/enquiries/enquiry/{enquiry.pk}/change/#thread" in text


# --- Incoming: a customer's reply ------------------------------------------------------------


def test_customer_reply_shows_in_the_thread_after_one_poll_and_reopens_the_enquiry(
    staff_reply, enquiry, inbound, client, sales_user
):
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.ANSWERED
    message = customer_message(to=thread_address(enquiry), body=REPLY_BODY)
    message.add_attachment(
        b"%PDF-1.4 purchase order", maintype="application", subtype="pdf", filename="PO-77.pdf"
    )
    inbound.append(message.as_bytes())

    assert inbound_mailbox_poll_task.apply().get() == {"matched": 1}

    received = InboundEmail.objects.get()
    assert received.enquiry == enquiry and received.matched_by == "address"
    assert received.body_text == "Thanks Anna, 5 users is right. Can we pay by invoice?"
    assert "VP Strategy" in received.full_text and "wrote:" in received.full_text
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.REPLIED
    assert enquiry.customer_replied_at == received.received_at
    notice = OutboundEmail.objects.get(template="enquiries/email/customer_replied")
    assert notice.to == sales_user.email and "Can we pay by invoice?" in notice.body_text
    [attachment] = received.attachments
    assert attachment["name"] == "PO-77.pdf" and attachment["path"].startswith("inbound/")
    with storages["private"].open(attachment["path"], "rb") as handle:
        assert handle.read() == b"%PDF-1.4 purchase order"

    html = thread_html(client, sales_user, enquiry)
    assert "Thanks Anna, 5 users is right. Can we pay by invoice?" in html
    assert "Customer replied" in html and "PO-77.pdf" in html
    download = client.get(reverse("admin:enquiries_inboundemail_attachment", args=[received.pk, 0]))
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 purchase order"


def test_the_same_reply_is_never_added_twice(staff_reply, enquiry, inbound):
    raw = customer_message(to=thread_address(enquiry), body=REPLY_BODY).as_bytes()
    inbound.append(raw)
    assert inbound_mailbox_poll() == {"matched": 1}
    assert inbound_mailbox_poll() == {}  # marked seen: not read again
    [(flags, _)] = inbound.messages()
    assert "\\Seen" in flags
    inbound.append(raw)  # the same message delivered again (a second copy, unseen)
    assert inbound_mailbox_poll() == {"matched": 1}
    assert InboundEmail.objects.count() == 1
    assert OutboundEmail.objects.filter(template="enquiries/email/customer_replied").count() == 1


def test_reply_matched_only_by_references(staff_reply, enquiry, inbound):
    """The customer's client dropped the plus-address (a reply to the From address)."""
    email = OutboundEmail.objects.get(pk=staff_reply.email_id)
    inbound.append(
        customer_message(
            to=INBOUND, body="Please send the invoice.", references=f"<other@x> {email.message_id}"
        ).as_bytes()
    )
    assert inbound_mailbox_poll() == {"matched": 1}
    received = InboundEmail.objects.get()
    assert received.enquiry == enquiry and received.matched_by == "headers"
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.REPLIED


def test_processed_messages_move_to_the_configured_folder(staff_reply, enquiry, inbound, settings):
    imap = inbound.client()
    imap.create("Processed")
    imap.logout()
    settings.INBOUND_PROCESSED_FOLDER = "Processed"
    inbound.append(customer_message(to=thread_address(enquiry), body="Moved?").as_bytes())
    assert inbound_mailbox_poll() == {"matched": 1}
    assert inbound.messages("INBOX") == []
    assert len(inbound.messages("Processed")) == 1


# --- Bounces ---------------------------------------------------------------------------------


def delivery_status_notification(*, original_message_id: str, action="failed") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.pub.example>\r\n"
        f"To: {INBOUND}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.pub.example')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n"
        "--B1\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B1\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.pub.example\r\n\r\n"
        f"Final-Recipient: rfc822; {CUSTOMER}\r\n"
        f"Action: {action}\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B1\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "From: Reliable Research IQ <reports@pub.example>\r\n"
        f"To: {CUSTOMER}\r\n"
        "Subject: Your price\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "--B1--\r\n"
    ).encode()


def test_a_bounce_marks_the_email_bounced_in_the_mail_log(
    staff_reply, enquiry, inbound, client, superuser
):
    email = OutboundEmail.objects.get(pk=staff_reply.email_id)
    inbound.append(delivery_status_notification(original_message_id=email.message_id))
    assert inbound_mailbox_poll() == {"bounce": 1}
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED and email.bounced_at is not None
    assert "5.1.1" in email.last_error and CUSTOMER not in email.last_error
    report = InboundEmail.objects.get()
    assert report.status == "bounce" and report.bounced_email == email and report.enquiry is None
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.ANSWERED  # a bounce is no customer reply
    client.force_login(superuser)
    log = client.get(reverse("admin:contacts_outboundemail_changelist") + "?status__exact=bounced")
    assert email.subject in log.content.decode()


def test_a_delayed_delivery_report_marks_nothing(staff_reply, inbound):
    email = OutboundEmail.objects.get(pk=staff_reply.email_id)
    inbound.append(
        delivery_status_notification(original_message_id=email.message_id, action="delayed")
    )
    assert inbound_mailbox_poll() == {"bounce": 1}
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.QUEUED


# --- Hostile and broken messages -------------------------------------------------------------


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (8 * 1024 * 1024))
    return buffer.getvalue()


def test_hostile_messages_are_handled_in_one_poll_without_a_crash(
    staff_reply, enquiry, inbound, caplog, client, sales_user
):
    address = thread_address(enquiry)
    script = customer_message(to=address, body="x", subject="Scripted")
    script.set_content(
        "<html><head><title>t</title><script>alert('owned')</script></head><body>"
        "<p>Looks <b>good</b> &amp; fine</p><img src=x onerror=alert(1)>"
        "<style>p{}</style></body></html>",
        subtype="html",
    )
    forged = customer_message(to=address, body="Send it to me", sender="mallory@evil.example")
    guessed = customer_message(
        to=address.replace(address.split(".")[1][:12], "0" * 12), body="Guessed address"
    )
    bomb = customer_message(to=address, body="See the zip", subject="Zipped")
    bomb.add_attachment(zip_bomb(), maintype="application", subtype="zip", filename="data.zip")
    oversized_attachment = customer_message(to=address, body="Big file", subject="Big")
    oversized_attachment.add_attachment(
        b"A" * (1024 * 1024 + 1), maintype="application", subtype="octet-stream", filename="b.bin"
    )
    huge = customer_message(to=address, body="H" * (2 * 1024 * 1024 + 10), subject="Huge")
    malformed = (
        b"From: =?bogus-charset?Q?=FF?= <<<@@>\r\nTo: \r\nSubject: =?utf-8?B?####?=\r\n"
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n\x00\xff\xfe garbage\r\n"
    )
    for message in (script, forged, guessed, bomb, oversized_attachment, huge):
        inbound.append(message.as_bytes())
    inbound.append(malformed)

    with caplog.at_level(logging.INFO, logger="enquiries"):
        outcomes = inbound_mailbox_poll()

    assert outcomes == {"matched": 3, "unmatched": 3, "refused": 1}
    scripted = InboundEmail.objects.get(subject="Scripted")
    assert scripted.converted_from_html and scripted.status == "matched"
    assert scripted.body_text == "Looks good & fine"
    assert "alert" not in scripted.full_text and "<" not in scripted.full_text

    held = InboundEmail.objects.get(from_address="mallory@evil.example")
    assert held.status == "unmatched" and held.enquiry is None
    assert enquiry.reference in held.problem and "not its contact" in held.problem

    made_up = InboundEmail.objects.get(body_text="Guessed address")
    assert made_up.status == "unmatched" and "signature does not verify" in made_up.problem

    zipped = InboundEmail.objects.get(subject="Zipped")
    assert zipped.status == "matched" and zipped.attachments == []
    assert zipped.refused_attachments[0]["name"] == "data.zip"
    assert "zip bomb" in zipped.refused_attachments[0]["reason"]
    assert "'data.zip' refused" in caplog.text

    big = InboundEmail.objects.get(subject="Big")
    assert big.attachments == [] and "over the 1 MB limit" in big.refused_attachments[0]["reason"]

    refused = InboundEmail.objects.get(subject="Huge")
    assert refused.status == "refused" and refused.full_text == "" and refused.body_text == ""
    assert "INBOUND_MAX_MESSAGE_MB" in refused.problem and "refused" in caplog.text

    broken = InboundEmail.objects.get(message_id__startswith="<sha256-")
    assert broken.status == "unmatched" and broken.enquiry is None

    assert inbound_mailbox_poll() == {}  # every one marked seen: none read twice
    assert all("\\Seen" in flags for flags, _ in inbound.messages())
    html = thread_html(client, sales_user, enquiry)
    assert "Looks good &amp; fine" in html and "alert(" not in html


def test_an_auto_reply_is_shown_but_reopens_nothing(staff_reply, enquiry, inbound):
    message = customer_message(to=thread_address(enquiry), body="I am out of office.")
    message["Auto-Submitted"] = "auto-replied"
    inbound.append(message.as_bytes())
    assert inbound_mailbox_poll() == {"matched": 1}
    assert InboundEmail.objects.get().automatic
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.ANSWERED


def test_an_unreachable_mailbox_is_logged_and_the_poll_returns(inbound, settings, caplog):
    settings.INBOUND_IMAP_URL = "imap://inbound:wrong@127.0.0.1:9/INBOX"
    with caplog.at_level(logging.WARNING):
        assert inbound_mailbox_poll() == {"unreachable": 1}
    assert "inbound mailbox unreachable" in caplog.text
    settings.INBOUND_IMAP_URL = inbound.url().replace("inbound-secret", "wrong")
    assert inbound_mailbox_poll() == {"login refused": 1}


# --- Unmatched messages: filed by hand in admin ---------------------------------------------


def test_unmatched_reply_is_listed_and_staff_assign_it_in_admin(
    staff_reply, enquiry, inbound, client, sales_user
):
    inbound.append(
        customer_message(
            to=INBOUND, body="Which licence covers two sites?", subject="Sites"
        ).as_bytes()
    )
    assert inbound_mailbox_poll() == {"unmatched": 1}
    held = InboundEmail.objects.get()
    client.force_login(sales_user)
    listing = client.get(reverse("admin:enquiries_inboundemail_changelist")).content.decode()
    assert "Sites" in listing and "No thread address" in listing
    inbox = client.get(reverse("admin:enquiries_enquiry_changelist")).content.decode()
    assert re.search(r'enq-quick-n">1</span> unmatched emails', inbox)

    change_url = reverse("admin:enquiries_inboundemail_change", args=[held.pk])
    response = client.post(change_url, {"enquiry": enquiry.pk})
    assert response.status_code == 302

    held.refresh_from_db()
    assert held.status == "matched" and held.enquiry == enquiry
    assert held.matched_by == "staff" and held.assigned_by == sales_user
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.REPLIED
    html = thread_html(client, sales_user, enquiry)
    assert "Which licence covers two sites?" in html and "filed by Anna Berg" in html
    # Once filed, the enquiry is no longer editable on the message.
    client.post(change_url, {"enquiry": enquiry.pk + 1000})
    held.refresh_from_db()
    assert held.enquiry == enquiry


def test_dovecot_missing_is_an_error_not_a_skip(monkeypatch):
    from tests.support import dovecot

    monkeypatch.setattr(dovecot, "DOVECOT", "/nonexistent/dovecot")
    with pytest.raises(RuntimeError, match="dovecot-imapd"):
        dovecot.DovecotServer()


# --- Privacy: export, erasure, retention ----------------------------------------------------


def filed_reply_with_attachment(enquiry, inbound) -> tuple[InboundEmail, bytes]:
    message = customer_message(to=thread_address(enquiry), body="Signed order attached.")
    message.add_attachment(
        b"%PDF-1.4 signed", maintype="application", subtype="pdf", filename="o.pdf"
    )
    inbound.append(message.as_bytes())
    assert inbound_mailbox_poll() == {"matched": 1}
    return InboundEmail.objects.get(), message.as_bytes()


def test_erasure_removes_what_the_person_wrote_and_their_attachments(
    staff_reply, enquiry, inbound, django_capture_on_commit_callbacks
):
    from common.files import FILES_JOB
    from common.models import PrivateFileDeletion
    from privacy.services import contact_data_export, contact_erase
    from tests.support.jobs import run_job

    received, raw = filed_reply_with_attachment(enquiry, inbound)
    path = received.attachments[0]["path"]
    exported = contact_data_export(contact=enquiry.contact)["emails_received"]
    assert [e["full_text"].strip() for e in exported] == ["Signed order attached."]

    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=enquiry.contact)
    assert run_job(FILES_JOB, PrivateFileDeletion.objects.get().pk) == "done"
    received.refresh_from_db()
    assert (received.body_text, received.full_text, received.attachments) == ("", "", [])
    assert CUSTOMER not in received.from_address and received.subject == "(erased)"
    assert not storages["private"].exists(path)
    # Still known by its Message-ID: the same message read again brings nothing back.
    inbound.append(raw)
    inbound_mailbox_poll()
    assert InboundEmail.objects.get().full_text == ""


def test_retention_deletes_old_unmatched_messages_with_their_attachments(
    db, inbound, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from common.files import FILES_JOB
    from common.models import PrivateFileDeletion
    from privacy.services import personal_data_purge
    from tests.support.jobs import run_job

    message = customer_message(to=INBOUND, body="Who am I?", subject="Stray")
    message.add_attachment(b"data", maintype="application", subtype="pdf", filename="s.pdf")
    inbound.append(message.as_bytes())
    assert inbound_mailbox_poll() == {"unmatched": 1}
    stray = InboundEmail.objects.get()
    later = timezone.now() + timedelta(days=settings.LEAD_RETENTION_DAYS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert personal_data_purge(now=later)["emails_received"] == 1
    assert not InboundEmail.objects.exists()
    assert run_job(FILES_JOB, PrivateFileDeletion.objects.get().pk) == "done"
    assert not storages["private"].exists(stray.attachments[0]["path"])


# --- Any bytes at all ---------------------------------------------------------------------------

HEADER_NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date"]
HEADER_NAMES += ["Content-Type", "Content-Transfer-Encoding", "Content-Disposition"]
HEADER_NAMES += ["Auto-Submitted", "Delivered-To"]


@st.composite
def hostile_messages(draw) -> bytes:
    """Raw messages with hostile headers (any bytes, encoded words, broken MIME parameters)
    and any body, or just any bytes."""
    header_value = st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"=?utf-8?B?####?=",
                b"=?x-unknown?Q?=FF=FE?=",
                b"multipart/report; report-type=delivery-status; boundary=",
                b'multipart/mixed; boundary="b"',
                b"text/html; charset=nonsense",
                b"<a@b> <<<c@d>>>",
                b"sales+e1.000000000000@pub.example",
                b"attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd",
            ]
        ),
    )
    if draw(st.booleans()):
        return draw(st.binary(max_size=2000))
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=12))
    body = draw(st.one_of(st.binary(max_size=1500), st.sampled_from([b"--b\r\n\r\n--b--", b""])))
    head = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + body


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=hostile_messages())
def test_any_message_is_stored_or_held_and_never_raises(db, inbound, raw):
    stored = inbound_message_process(raw=raw)
    assert stored.pk and stored.status in ("matched", "unmatched", "bounce", "refused")
    assert inbound_message_process(raw=raw).pk == stored.pk  # the second reading adds nothing


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("imaps://sales%40pub.example:app%20pw@imap.gmail.com:993/INBOX", True),
        ("imap://inbound:pw@127.0.0.1:1143/INBOX", True),
        ("imap://sales:pw@imap.pub.example:143/INBOX", False),  # a password in clear text
        ("pop3s://sales:pw@pop.pub.example", False),
    ],
)
def test_the_settings_refuse_an_imap_url_without_tls_beyond_loopback(url, accepted):
    import os
    import subprocess
    import sys

    env = {**os.environ, "INBOUND_IMAP_URL": url, "DJANGO_SETTINGS_MODULE": "smosite.settings.test"}
    probe = (
        "import django; django.setup(); from django.conf import settings; settings.INSTALLED_APPS"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode == 0) is accepted, result.stderr[-500:]
    if not accepted:
        assert "INBOUND_IMAP_URL" in result.stderr


def test_the_mailbox_url_is_read_with_its_encoded_login():
    from enquiries.services.inbound_mailbox import mailbox_address

    address = mailbox_address("imaps://sales%40pub.example:p%40ss%2Fword@imap.gmail.com/Replies")
    assert (address.secure, address.host, address.port) == (True, "imap.gmail.com", 993)
    assert (address.user, address.password, address.folder) == (
        "sales@pub.example",
        "p@ss/word",
        "Replies",
    )


def test_the_sla_clock_restarts_at_the_customers_reply(
    staff_reply, enquiry, inbound, client, sales_user
):
    from datetime import timedelta

    inbound.append(customer_message(to=thread_address(enquiry), body="And VAT?").as_bytes())
    assert inbound_mailbox_poll() == {"matched": 1}
    client.force_login(sales_user)
    changelist = reverse("admin:enquiries_enquiry_changelist")
    listing = client.get(changelist + "?answer=unanswered").content.decode()
    assert enquiry.reference in listing and "reply due in" in listing
    assert enquiry.reference not in client.get(changelist + "?answer=overdue").content.decode()

    # Ten days later (beyond any working week's SLA) it is past the promise again.
    Enquiry.objects.filter(pk=enquiry.pk).update(
        customer_replied_at=enquiry.created_at - timedelta(days=10)
    )
    overdue = client.get(changelist + "?answer=overdue").content.decode()
    assert enquiry.reference in overdue and "reply overdue" in overdue

    services.enquiry_reply_send(enquiry=enquiry, author=sales_user, subject="VAT", body="Yes.")
    enquiry.refresh_from_db()
    assert enquiry.status == Enquiry.Status.ANSWERED  # answered: the clock stops
    assert enquiry.reference not in client.get(changelist + "?answer=overdue").content.decode()


def test_a_message_the_rules_cannot_handle_is_held_with_the_error_and_not_read_again(
    db, inbound, monkeypatch, caplog
):
    """A fault in our own code (simulated) while reading one message: it is kept for staff
    with the error, marked seen, and the next message of the same poll is read as usual."""
    from enquiries.services import inbound as inbound_service

    real_parse = inbound_service.message_parse

    def parse_failing_on_the_first(raw):
        if b"first" in raw:
            raise ValueError("simulated parser fault")
        return real_parse(raw)

    monkeypatch.setattr(inbound_service, "message_parse", parse_failing_on_the_first)
    inbound.append(b"Subject: first\r\nMessage-ID: <first@x>\r\n\r\nNUL\x00 and\r\nlines\r\n")
    inbound.append(customer_message(to=INBOUND, body="second", subject="second").as_bytes())
    with caplog.at_level(logging.ERROR):
        assert inbound_mailbox_poll() == {"unreadable": 1, "unmatched": 1}
    held = InboundEmail.objects.get(message_id="<first@x>")
    assert held.status == "unmatched" and "simulated parser fault" in held.problem
    # (Dovecot itself replaces a NUL it is given; none reaches the database either way.)
    assert "and\nlines" in held.full_text and "\x00" not in held.full_text
    assert "held for staff" in caplog.text
    assert inbound_mailbox_poll() == {}

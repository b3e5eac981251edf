"""Replies to sample follow-ups, read from a real IMAP server (the private Dovecot of
tests/support/dovecot.py, polled as Celery beat polls it): a reply stops the sequence for good,
is recorded as a "replied" event, stays visible to staff and tells the sales inbox
(enquiries/services/followups.py, enquiries/services/inbound.py)."""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from contacts.models import OutboundEmail
from contacts.services.marketing import Source, marketing_consent_from_form
from enquiries.models import FollowUp, FollowUpEvent, InboundEmail
from enquiries.services.enquiries import enquiry_create
from enquiries.services.followups import (
    followup_start,
    followup_steps_default_create,
    followups_send_due,
)
from enquiries.services.inbound import inbound_email_assign
from enquiries.services.inbound_mailbox import inbound_mailbox_poll
from enquiries.services.mail_thread import followup_address, thread_address_parse
from reports.services.seed import report_load_seed
from sales.models import Lead
from tests.factories import SampleRequestFactory
from tests.support.forms import sample_form_data
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

INBOUND = "sales@pub.example"
EMAIL = "jane.doe@acme-pharma.example"
# Monday 4 January 2027, 08:00 UTC = 09:00 in Berlin: the sequence's day 0.
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
DAY2 = START + timedelta(days=2, hours=2)  # Wednesday 11:00 Berlin
DAY7 = START + timedelta(days=7, hours=2)  # Monday 11 January, 11:00 Berlin
REPLY_BODY = """Could you send me the price of a 5-user licence?

Best,
Jane

On Wed, 6 Jan 2027 at 11:00, Reliable Research IQ <sales@pub.example> wrote:
> Dear Jane,
> Two days ago you asked for the free sample
"""


@pytest.fixture
def inbound(dovecot_server, settings):
    """The site reading the test's own Dovecot mailbox, emptied for each test."""
    dovecot_server.clear()
    settings.INBOUND_ADDRESS = INBOUND
    settings.INBOUND_IMAP_URL = dovecot_server.url()
    settings.INBOUND_IMAP_TIMEOUT_SECONDS = 10
    settings.INBOUND_PROCESSED_FOLDER = ""
    return dovecot_server


def reply(*, to: str, sender: str = EMAIL, in_reply_to: str = "", auto: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: Any questions?"
    message["Message-ID"] = make_msgid(domain="acme-pharma.example")
    message["Date"] = "Wed, 06 Jan 2027 14:00:00 +0100"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    if auto:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(REPLY_BODY)
    return message.as_bytes()


def outcomes(follow_up) -> list[str]:
    return list(follow_up.events.values_list("outcome", flat=True))


# --- On the real stack: the form, the worker, SMTP, Dovecot, the admin ----------------------


@pytest.mark.django_db(transaction=True)
def test_a_reply_to_the_day_2_follow_up_stops_the_day_7_step_and_shows_in_admin(
    client, mailbox, celery_worker, inbound, superuser
):
    report = report_load_seed().report
    install_rendered_bases(report)
    followup_steps_default_create()
    data = sample_form_data(marketing="on")
    response = client.post(reverse("enquiries:request-sample", args=[report.number]), data)
    assert response.status_code == 302
    mailbox.wait_for(1, to=EMAIL, timeout=60)  # the sample itself
    follow_up = FollowUp.objects.get()
    FollowUp.objects.filter(pk=follow_up.pk).update(
        started_at=START, next_due_at=START + timedelta(days=2)
    )

    assert followups_send_due(now=DAY2) == 1
    wait_until(lambda: any(m["List-Unsubscribe"] for m in mailbox.to(EMAIL)), timeout=60)
    day2 = next(m for m in mailbox.to(EMAIL) if m["List-Unsubscribe"])
    assert followup_address(follow_up.pk) in day2["Reply-To"]
    assert day2["Message-ID"] == OutboundEmail.objects.get(purpose="marketing").message_id

    inbound.append(reply(to=day2["Reply-To"], in_reply_to=day2["Message-ID"]))
    assert inbound_mailbox_poll() == {"followup": 1}
    assert inbound_mailbox_poll() == {}  # read once

    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.STOPPED
    assert follow_up.stop_reason.startswith("Replied to a follow-up email")
    assert outcomes(follow_up) == ["queued", "replied", "stopped"]
    received = InboundEmail.objects.get()
    assert received.status == InboundEmail.Status.FOLLOW_UP and received.follow_up == follow_up
    assert received.matched_by == "address"
    assert received.body_text == "Could you send me the price of a 5-user licence?"
    assert FollowUpEvent.objects.get(outcome="replied").inbound == received

    assert followups_send_due(now=DAY7) == 0
    assert followups_send_due(now=START + timedelta(days=30)) == 0
    (notice,) = mailbox.wait_for(1, to=django_settings.SALES_INBOX_EMAIL, timeout=60)
    assert "Jane Doe replied to a follow-up" in str(notice["Subject"])
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "price of a 5-user licence" in text and "wrote:" not in text
    assert f"/admin/enquiries/inboundemail/{received.pk}/change/" in text
    celery_worker.wait_idle()
    assert [m["Subject"] for m in mailbox.to(EMAIL) if m["List-Unsubscribe"]] == [
        f"Any questions about {report.title}?"
    ]  # never the day-7 step

    client.force_login(superuser)
    listing = client.get(reverse("admin:enquiries_inboundemail_changelist") + "?state=followup")
    html = listing.content.decode()
    assert "Re: Any questions?" in html and "Follow-up of the sample of" in html
    page = client.get(reverse("admin:enquiries_followup_change", args=[follow_up.pk]))
    html = page.content.decode()
    assert "Replied: Re: Any questions?" in html and "Re: Any questions? ← " in html
    message = client.get(reverse("admin:enquiries_inboundemail_change", args=[received.pk]))
    assert "price of a 5-user licence" in message.content.decode()


# --- Matching rules ---------------------------------------------------------------------------


@pytest.fixture
def sent_step(db, inbound) -> OutboundEmail:
    """A running sequence whose day-2 email was queued (with the reply address of the day)."""
    followup_steps_default_create()
    sample = SampleRequestFactory(contact__email=EMAIL, contact__country="DE")
    marketing_consent_from_form(contact=sample.contact, ticked=True, source=Source.SAMPLE_FORM)
    follow_up = followup_start(sample_request=sample)
    FollowUp.objects.filter(pk=follow_up.pk).update(
        started_at=START, next_due_at=START + timedelta(days=2)
    )
    assert followups_send_due(now=DAY2) == 1
    return OutboundEmail.objects.get(purpose="marketing")


def test_each_step_replies_to_the_sequences_signed_address_named_for_the_sales_desk(sent_step):
    follow_up = FollowUp.objects.get()
    address = followup_address(follow_up.pk)
    assert sent_step.reply_to == formataddr((django_settings.PUBLISHER_NAME, address))
    assert thread_address_parse(address) == (None, False)  # not an enquiry's thread
    assert followups_send_due(now=DAY7) == 1
    day7 = OutboundEmail.objects.filter(purpose="marketing").latest("pk")
    assert day7.reply_to == formataddr((f"{django_settings.PUBLISHER_NAME} sales desk", address))


def test_a_reply_matched_only_by_in_reply_to_stops_the_sequence(sent_step, inbound):
    inbound.append(reply(to=INBOUND, in_reply_to=sent_step.message_id))
    assert inbound_mailbox_poll() == {"followup": 1}
    received = InboundEmail.objects.get()
    assert received.matched_by == "headers" and received.follow_up == FollowUp.objects.get()
    assert FollowUp.objects.get().status == FollowUp.Status.STOPPED
    assert followups_send_due(now=DAY7) == 0
    notice = OutboundEmail.objects.get(template="enquiries/email/followup_replied")
    assert notice.to == django_settings.SALES_INBOX_EMAIL


def test_a_reply_from_someone_else_is_held_for_staff_naming_the_follow_up(sent_step, inbound):
    follow_up = FollowUp.objects.get()
    inbound.append(reply(to=sent_step.reply_to, sender="colleague@acme-pharma.example"))
    assert inbound_mailbox_poll() == {"unmatched": 1}
    held = InboundEmail.objects.get()
    assert held.follow_up is None
    assert held.problem.startswith(f"Looks like a reply to follow-up {follow_up.pk} (the sample")
    assert FollowUp.objects.get().status == FollowUp.Status.ACTIVE
    assert outcomes(follow_up) == ["queued"]


def test_a_made_up_follow_up_address_is_held_and_stops_nothing(sent_step, inbound):
    follow_up = FollowUp.objects.get()
    forged = f"sales+f{follow_up.pk}.{'0' * 12}@pub.example"
    assert forged != followup_address(follow_up.pk)
    inbound.append(reply(to=forged))
    assert inbound_mailbox_poll() == {"unmatched": 1}
    assert "signature does not verify" in InboundEmail.objects.get().problem
    assert FollowUp.objects.get().status == FollowUp.Status.ACTIVE


def test_an_out_of_office_reply_is_filed_but_the_sequence_goes_on(sent_step, inbound):
    inbound.append(reply(to=sent_step.reply_to, auto=True))
    assert inbound_mailbox_poll() == {"followup": 1}
    assert InboundEmail.objects.get().automatic
    follow_up = FollowUp.objects.get()
    assert follow_up.status == FollowUp.Status.ACTIVE and outcomes(follow_up) == ["queued"]
    assert not OutboundEmail.objects.filter(template="enquiries/email/followup_replied").exists()
    assert followups_send_due(now=DAY7) == 1


def test_the_owner_of_the_persons_lead_hears_of_the_reply_instead_of_the_sales_inbox(
    sent_step, inbound, sales_user
):
    Lead.objects.update_or_create(contact=sent_step.contact, defaults={"owner": sales_user})
    inbound.append(reply(to=sent_step.reply_to))
    assert inbound_mailbox_poll() == {"followup": 1}
    notice = OutboundEmail.objects.get(template="enquiries/email/followup_replied")
    assert notice.to == sales_user.email != django_settings.SALES_INBOX_EMAIL
    assert "price of a 5-user licence" in notice.body_text


def test_staff_can_still_file_a_follow_up_reply_in_an_enquirys_thread(
    sent_step, inbound, sales_user
):
    inbound.append(reply(to=sent_step.reply_to))
    assert inbound_mailbox_poll() == {"followup": 1}
    enquiry = enquiry_create(
        report=FollowUp.objects.get().sample_request.report,
        contact_details={"email": EMAIL, "name": "Jane Doe"},
        enquiry_type="pricing",
        question="Price of a 5-user licence?",
    )
    filed = inbound_email_assign(
        inbound=InboundEmail.objects.get(), enquiry=enquiry, actor=sales_user
    )
    assert filed.status == InboundEmail.Status.MATCHED and filed.enquiry == enquiry
    assert filed.follow_up == FollowUp.objects.get()  # still shown on the follow-up

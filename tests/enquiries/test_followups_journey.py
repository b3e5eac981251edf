"""Sample follow-ups on the real stack: the form posted through the test client, a real
Celery worker stamping and sending, aiosmtpd receiving. The clock is the test's: the beat
task's service (`followups_send_due`) is called with `now`, and the sequence's start is set
to a known Monday so the working-hours window (Europe/Berlin for a German contact) is
predictable."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from common import jobs
from contacts.models import MarketingConsent, OutboundEmail
from enquiries.models import FollowUp, FollowUpEvent, SampleRequest
from enquiries.services.followups import followup_steps_default_create, followups_send_due
from reports.services.seed import report_load_seed
from tests.support.broker import broker_unreachable
from tests.support.forms import form_started_token, sample_form_data
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "jane.doe@acme-pharma.example"
# Monday 4 January 2027, 08:00 UTC = 09:00 in Berlin: the sequence's day 0.
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
DAY2 = START + timedelta(days=2, hours=2)  # Wednesday 11:00 Berlin
DAY7 = START + timedelta(days=7, hours=2)  # Monday 11 January, 11:00 Berlin


@pytest.fixture
def report(celery_worker):
    report = report_load_seed().report
    install_rendered_bases(report)
    followup_steps_default_create()  # the data migration's rows (flushed between tests)
    return report


def request_sample(client, report, mailbox, **overrides) -> SampleRequest:
    data = sample_form_data(**overrides)
    response = client.post(reverse("enquiries:request-sample", args=[report.number]), data)
    assert response.status_code == 302
    mailbox.wait_for(1, to=EMAIL, timeout=60)  # the sample itself
    request = SampleRequest.objects.get()
    FollowUp.objects.filter(sample_request=request).update(
        started_at=START, next_due_at=START + timedelta(days=2)
    )
    return request


def followups_received(mailbox) -> list:
    """The marketing emails received (they, and only they, carry List-Unsubscribe)."""
    return [m for m in mailbox.to(EMAIL) if m["List-Unsubscribe"]]


def wait_sent(count: int, mailbox):
    wait_until(
        lambda: len(followups_received(mailbox)) >= count,
        timeout=60,
        message=f"expected {count} follow-up(s)",
    )


def test_a_consenting_requester_gets_exactly_two_follow_ups_on_day_2_and_day_7(
    client, report, mailbox, celery_worker
):
    request = request_sample(client, report, mailbox, marketing="on")
    consent = MarketingConsent.objects.get(contact=request.contact)
    assert consent.granted and consent.source == "sample_form"
    assert consent.wording.startswith("Also email me") and consent.version

    assert followups_send_due(now=START + timedelta(days=1)) == 0
    assert followups_send_due(now=DAY2) == 1
    wait_sent(1, mailbox)
    first = followups_received(mailbox)[0]
    assert first["Subject"] == f"Any questions about {report.title}?"
    text = first.get_body(preferencelist=("plain",)).get_content()
    assert "Executive Summary" in text and "Market Overview and Dynamics" in text  # the TOC
    # RFC 8058: an https URL (here the test SITE_URL) and the one-click POST marker.
    unsubscribe = re.search(r"<([^>]+)>", first["List-Unsubscribe"]).group(1)
    assert unsubscribe.startswith(settings.SITE_URL + "/email/unsubscribe/")
    assert unsubscribe in text
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # No tracking pixel: the only image is the brand's logo, the same file for every reader.
    images = re.findall(
        r'<img src="([^"]+)"', OutboundEmail.objects.get(purpose="marketing").body_html
    )
    assert images == [f"{settings.SITE_URL}/static/img/email-logo.png"]

    assert followups_send_due(now=DAY2 + timedelta(hours=1)) == 0
    assert followups_send_due(now=START + timedelta(days=6, hours=3)) == 0
    assert followups_send_due(now=DAY7) == 1
    wait_sent(2, mailbox)
    second = followups_received(mailbox)[1]
    assert second["Subject"] == f"{report.title}: licences and prices"
    assert second["Reply-To"] == settings.SALES_INBOX_EMAIL
    body = second.get_body(preferencelist=("plain",)).get_content()
    assert "USD 3900" in body and "USD 7900" in body

    assert followups_send_due(now=START + timedelta(days=30)) == 0
    celery_worker.wait_idle()
    assert len(followups_received(mailbox)) == 2
    follow_up = FollowUp.objects.get()
    assert follow_up.status == FollowUp.Status.FINISHED
    assert [e.outcome for e in follow_up.events.all()] == ["queued", "queued"]


def test_nothing_more_is_sent_once_the_requester_enquires(client, report, mailbox, celery_worker):
    request_sample(client, report, mailbox, marketing="on")
    assert followups_send_due(now=DAY2) == 1
    wait_sent(1, mailbox)

    response = client.post(
        reverse("enquiries:pre-order-enquiry", args=[report.number]),
        {
            **sample_form_data(form_started=form_started_token(age_seconds=30)),
            "type": "pricing",
            "question": "Could we get a regional cut?",
        },
    )
    assert response.status_code == 302
    follow_up = FollowUp.objects.get()
    assert follow_up.status == FollowUp.Status.STOPPED
    assert follow_up.stop_reason.startswith("Enquired (ENQ-")

    assert followups_send_due(now=DAY7) == 0
    assert followups_send_due(now=START + timedelta(days=30)) == 0
    celery_worker.wait_idle()
    assert [m["Subject"] for m in followups_received(mailbox)] == [
        f"Any questions about {report.title}?"
    ]
    assert len(mailbox.to(EMAIL)) == 3  # the sample, the step, the enquiry's acknowledgement
    assert OutboundEmail.objects.filter(purpose="marketing").count() == 1


def test_a_requester_who_did_not_tick_the_box_gets_no_follow_up(
    client, report, mailbox, celery_worker
):
    request = request_sample(client, report, mailbox)  # the marketing box left unticked
    assert not FollowUp.objects.exists()
    assert not MarketingConsent.objects.filter(contact=request.contact).exists()
    for now in (DAY2, DAY7, START + timedelta(days=30)):
        assert followups_send_due(now=now) == 0
    celery_worker.wait_idle()
    assert len(mailbox.to(EMAIL)) == 1  # the sample only
    assert not OutboundEmail.objects.filter(purpose="marketing").exists()


def test_one_click_unsubscribe_by_a_raw_post_stops_the_step_already_queued(
    report, mailbox, celery_worker
):
    request_sample(Client(), report, mailbox, marketing="on")
    with broker_unreachable():  # the step is queued but waits (a busy mail queue)
        assert followups_send_due(now=DAY2) == 1
    email = OutboundEmail.objects.get(purpose="marketing")
    assert email.status == OutboundEmail.Status.QUEUED
    unsubscribe = re.search(r"(https?://\S+/email/unsubscribe/\S+)", email.body_text).group(1)

    # What a mail client does (RFC 8058): a POST with this body and no cookie or CSRF token.
    raw = Client(enforce_csrf_checks=True)
    response = raw.post(
        unsubscribe.removeprefix(settings.SITE_URL),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    withdrawal = MarketingConsent.objects.order_by("-pk").first()
    assert not withdrawal.granted and withdrawal.source == "one_click"

    assert jobs.sweep() >= 1  # the broker is back: the queued email's job is published
    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SUPPRESSED,
        timeout=60,
        message="the queued step was not suppressed",
    )
    celery_worker.wait_idle()
    assert followups_received(mailbox) == []
    follow_up = FollowUp.objects.get()
    assert follow_up.status == FollowUp.Status.STOPPED
    assert FollowUpEvent.objects.filter(outcome="suppressed", email=email).exists()
    assert followups_send_due(now=DAY7) == 0

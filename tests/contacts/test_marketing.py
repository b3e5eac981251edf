"""The marketing-email mechanism: consent history, the send-time check, one-click
unsubscribe, the preferences page, working hours, and staff's view of a contact."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from common import jobs
from common.models import Job
from contacts.models import MarketingConsent, OutboundEmail
from contacts.services import marketing
from contacts.services.outbox import JOB
from contacts.services.send_window import send_window_next
from enquiries.forms import EnquiryForm, SampleRequestForm
from enquiries.models import FollowUp, FollowUpEvent
from orders.forms import PurchaseForm
from orders.services import checkout
from privacy.services import contact_erase
from tests.factories import (
    ContactFactory,
    LicenceFactory,
    ReportFactory,
    SampleRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
TEMPLATE = "enquiries/email/followup"


@pytest.fixture
def contact():
    contact = ContactFactory(email="ana@acme.example", country="DE")
    marketing.marketing_consent_from_form(
        contact=contact, ticked=True, source=marketing.Source.SAMPLE_FORM
    )
    return contact


def queue(contact) -> OutboundEmail:
    return marketing.marketing_email_queue(
        contact=contact,
        purpose=marketing.MARKETING,
        template=TEMPLATE,
        context={"subject": "Hello", "body": "News"},
    )


def run_send_job(email) -> None:
    """The outbox's "mail.send" job run here, as the worker would run it."""
    job = Job.objects.get(kind=JOB, target_id=email.pk)
    jobs.run(job.pk, token="test-run")


def test_marketing_boxes_are_separate_and_unticked_on_every_form():
    report = ReportFactory()
    licences = [LicenceFactory(report=report)]
    for form in (
        SampleRequestForm(publisher="P"),
        EnquiryForm(report=report, publisher="P"),
        PurchaseForm(licences=licences),
    ):
        assert not form.fields["marketing"].required
        assert form.fields["marketing"].initial is None
        assert "unsubscribe" in form.fields["marketing"].label
        required = form.fields.get("consent") or form.fields["terms"]
        assert required.required and required.label != form.fields["marketing"].label


def test_a_ticked_box_on_the_purchase_form_is_recorded_with_its_words():
    licence = LicenceFactory()
    checkout.order_create(
        report=licence.report,
        terms=checkout.purchase_terms_list(licence=licence),
        buyer_email="buyer@acme.example",
        buyer_name="Bo Buyer",
        buyer_company="Acme",
        marketing=True,
    )
    consent = MarketingConsent.objects.get()
    assert consent.source == "purchase_form" and consent.granted
    assert consent.wording == marketing.marketing_consent_text()
    assert consent.version == marketing.MARKETING_CONSENT_VERSION


def test_nothing_is_queued_without_consent_and_an_unticked_box_records_nothing():
    contact = ContactFactory()
    marketing.marketing_consent_from_form(
        contact=contact, ticked=False, source=marketing.Source.ENQUIRY_FORM
    )
    assert not MarketingConsent.objects.exists()
    assert queue(contact) is None
    assert not OutboundEmail.objects.exists()


def test_an_email_queued_before_the_person_withdrew_is_suppressed_at_send_time(contact):
    email = queue(contact)
    assert email.status == OutboundEmail.Status.QUEUED and email.purpose == "marketing"
    marketing.marketing_preferences_save(contact=contact, wanted=set())
    run_send_job(email)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SUPPRESSED
    assert email.last_error.startswith("Unsubscribed (Preferences page")
    assert email.sent_at is None


def test_erasure_ends_marketing_and_the_consent_history_stays_without_the_network(contact):
    MarketingConsent.objects.update(ip="192.0.2.0")
    contact_erase(contact=contact)
    contact.refresh_from_db()
    assert marketing.marketing_block_reason(contact=contact, purpose="marketing") == (
        "The person's data was erased."
    )
    assert queue(contact) is None
    assert list(MarketingConsent.objects.values_list("granted", "ip")) == [(True, "")]


def test_a_get_on_the_unsubscribe_link_changes_nothing_and_a_bad_token_is_404(client, contact):
    token = marketing.unsubscribe_token(contact=contact, purpose="marketing")
    page = client.get(reverse("contacts:unsubscribe", args=[token]))
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert marketing.marketing_block_reason(contact=contact, purpose="marketing") == ""
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(reverse("contacts:unsubscribe", args=[tampered])).status_code == 404


def test_the_one_click_post_needs_no_csrf_token_and_a_second_click_records_nothing(contact):
    token = marketing.unsubscribe_token(contact=contact, purpose="marketing")
    raw = Client(enforce_csrf_checks=True)
    url = reverse("contacts:unsubscribe", args=[token])
    body = "List-Unsubscribe=One-Click"
    form = "application/x-www-form-urlencoded"
    assert raw.post(url, body, content_type=form).status_code == 200
    assert raw.post(url, body, content_type=form).status_code == 200
    history = list(MarketingConsent.objects.order_by("pk").values_list("granted", "source"))
    assert history == [(True, "sample_form"), (False, "one_click")]


def test_the_preferences_page_changes_and_restores_consent_as_history_without_sign_in(
    contact,
):
    token = marketing.unsubscribe_token(contact=contact, purpose="marketing")
    url = reverse("contacts:preferences", args=[token])
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url).content.decode()
    assert 'value="marketing"' in page and "checked" in page
    csrf = browser.cookies["csrftoken"].value
    browser.post(url, {"csrfmiddlewaretoken": csrf})  # everything unticked
    browser.post(url, {"csrfmiddlewaretoken": csrf, "purpose": ["marketing"]})
    history = list(MarketingConsent.objects.order_by("pk").values_list("granted", "source"))
    assert history == [(True, "sample_form"), (False, "preferences"), (True, "preferences")]
    assert MarketingConsent.objects.order_by("pk").last().wording.startswith("Also email me")


@pytest.mark.parametrize(
    ("at", "country", "expected"),
    [
        # Saturday noon in Berlin: Monday 09:00 Berlin (08:00 UTC).
        (datetime(2027, 1, 9, 11, 0, tzinfo=UTC), "DE", datetime(2027, 1, 11, 8, 0, tzinfo=UTC)),
        # Tuesday 10:00 Berlin: now.
        (datetime(2027, 1, 5, 9, 0, tzinfo=UTC), "DE", datetime(2027, 1, 5, 9, 0, tzinfo=UTC)),
        # Tuesday 18:00 UTC is 13:00 in New York: now; but 03:00 in Tokyo → 09:00 Tokyo.
        (datetime(2027, 1, 5, 18, 0, tzinfo=UTC), "US", datetime(2027, 1, 5, 18, 0, tzinfo=UTC)),
        (datetime(2027, 1, 5, 18, 0, tzinfo=UTC), "JP", datetime(2027, 1, 6, 0, 0, tzinfo=UTC)),
        # No country: MARKETING_DEFAULT_TIME_ZONE (London), 20:00 → next morning 09:00.
        (datetime(2027, 1, 5, 20, 0, tzinfo=UTC), "", datetime(2027, 1, 6, 9, 0, tzinfo=UTC)),
    ],
)
def test_marketing_goes_out_in_the_persons_working_hours(at, country, expected):
    assert send_window_next(at=at, country=country) == expected


def test_staff_see_consent_history_marketing_emails_and_why_a_step_was_skipped(client, contact):
    sample_request = SampleRequestFactory(contact=contact)
    follow_up = FollowUp.objects.create(
        sample_request=sample_request,
        contact=contact,
        started_at=datetime(2027, 1, 4, tzinfo=UTC),
        status=FollowUp.Status.STOPPED,
        stop_reason="Enquired (ENQ-000007).",
    )
    FollowUpEvent.objects.create(
        follow_up=follow_up, outcome="stopped", reason="Enquired (ENQ-000007)."
    )
    queue(contact)
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    assert "Marketing: consent history" in page and "Sample request form" in page
    assert "Also email me" in page
    assert "Marketing emails sent" in page and "Hello" in page
    assert "Sequence stopped" in page and "Enquired (ENQ-000007)." in page

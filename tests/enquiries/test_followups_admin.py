"""Follow-ups in admin (steps edited with a preview, staff taking the lead) and the rules a
sequence obeys before each step, run with the test's clock."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from contacts.models import OutboundEmail
from contacts.services import marketing
from enquiries.models import FollowUp, FollowUpStep
from enquiries.services.followups import (
    followup_start,
    followup_steps_default_create,
    followups_send_due,
)
from orders.models import Order
from tests.factories import (
    ContactFactory,
    LicenceFactory,
    SampleRequestFactory,
    TocEntryFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Berlin
DAY2 = START + timedelta(days=2, hours=2)


@pytest.fixture
def follow_up(db):
    followup_steps_default_create()
    contact = ContactFactory(country="DE")
    marketing.marketing_consent_from_form(
        contact=contact, ticked=True, source=marketing.Source.SAMPLE_FORM
    )
    sample_request = SampleRequestFactory(contact=contact, name="Ana Ruiz")
    TocEntryFactory(report=sample_request.report, title="Market Overview", level=1)
    LicenceFactory(report=sample_request.report, price=3900)
    follow_up = followup_start(sample_request=sample_request)
    FollowUp.objects.filter(pk=follow_up.pk).update(
        started_at=START, next_due_at=START + timedelta(days=2)
    )
    return FollowUp.objects.get(pk=follow_up.pk)


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def test_a_step_is_previewed_in_admin_with_the_latest_sample_request(staff_client, follow_up):
    step = FollowUpStep.objects.get(position=1)
    url = reverse("admin:enquiries_followupstep_change", args=[step.pk])
    page = staff_client.get(url).content.decode()
    assert f"Any questions about {follow_up.sample_request.report.title}?" in page
    assert "Dear Ana," in page and "- Market Overview" in page

    step.body = "{% if %}broken"
    step.save()
    assert "Template error" in staff_client.get(url).content.decode()


def test_staff_taking_the_lead_stops_the_sequence_for_good(staff_client, follow_up):
    changelist = reverse("admin:enquiries_samplerequest_changelist")
    staff_client.post(
        changelist,
        {"action": "take_the_lead", "_selected_action": [follow_up.sample_request_id]},
    )
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.STOPPED
    assert follow_up.stop_reason.startswith("Staff took the lead")
    assert followups_send_due(now=DAY2) == 0
    assert not OutboundEmail.objects.filter(purpose="marketing").exists()


def test_a_purchase_since_the_sample_stops_the_sequence_and_says_why(follow_up):
    order = Order.objects.create(
        licence=follow_up.sample_request.report.licences.get(),
        reference="SMO-2027-000001",
        report=follow_up.sample_request.report,
        licence_kind="single",
        licence_name="Single user",
        price=3900,
        currency="USD",
        buyer_email=follow_up.contact.email,
        buyer_name="Ana Ruiz",
        buyer_company="Acme",
        contact=follow_up.contact,
        status=Order.Status.PAID,
        paid_at=START + timedelta(days=1),
    )
    assert followups_send_due(now=DAY2) == 0
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.STOPPED
    assert follow_up.stop_reason == f"Bought ({order.reference})."
    assert follow_up.events.get().get_outcome_display() == "Sequence stopped"


def test_outside_working_hours_the_step_waits_for_the_next_window(follow_up):
    saturday_night = START + timedelta(days=5, hours=14)  # Saturday 23:00 Berlin
    FollowUp.objects.filter(pk=follow_up.pk).update(next_due_at=saturday_night)
    assert followups_send_due(now=saturday_night) == 0
    follow_up.refresh_from_db()
    assert follow_up.next_due_at == datetime(2027, 1, 11, 8, 0, tzinfo=UTC)  # Monday 09:00
    assert followups_send_due(now=follow_up.next_due_at) == 1

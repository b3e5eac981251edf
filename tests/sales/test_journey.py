"""The buyer's journey in one line on the order's admin page."""

from datetime import timedelta

import pytest
from django.urls import reverse

from enquiries.models import EnquiryReply
from orders.journey import buyer_journey
from tests.factories import ReportFactory, UserFactory
from tests.support.staff import superuser

from .rows import contact, enquiry, order, sample

pytestmark = pytest.mark.django_db


def test_the_order_page_tells_the_buyers_journey_in_one_line(client):
    report = ReportFactory()
    person = contact("jane@acme-pharma.example")
    bought = order(person, report)
    first = bought.paid_at - timedelta(days=12, hours=3)
    sample(person, report, at=first, utm_source="google", utm_campaign="spring")
    sample(person, report, at=first + timedelta(days=2))
    yan = UserFactory(username="yan", first_name="Yan", last_name="Ng")
    for days in (10, 5):
        asked = enquiry(person, report, at=bought.paid_at - timedelta(days=days))
        EnquiryReply.objects.create(enquiry=asked, author=yan, subject="Re", body="Price")
    enquiry(person, report, at=bought.paid_at + timedelta(days=1))  # after buying: not counted
    client.force_login(superuser())

    page = client.get(reverse("admin:orders_order_change", args=[bought.pk]))

    line = "first sample 12 days before buying, from campaign google / spring, 2 enquiries, answered by Yan Ng"
    assert line in page.content.decode()


def test_a_buyer_without_history_and_an_order_without_contact():
    report = ReportFactory()
    direct = order(contact("d@acme-pharma.example"), report, utm_source="newsletter")
    assert buyer_journey(direct) == "no sample before buying, from campaign newsletter, 0 enquiries"
    assert buyer_journey(order(None, report)) == "—"


def test_an_unanswered_enquiry_says_so():
    report = ReportFactory()
    person = contact("u@acme-pharma.example")
    bought = order(person, report)
    sample(person, report, at=bought.paid_at)
    enquiry(person, report, at=bought.paid_at - timedelta(hours=1))
    assert buyer_journey(bought) == (
        "first sample on the day of buying, no campaign, 1 enquiry, not answered"
    )

"""The admin as staff meet it: the site's name in the header, lists headed by what they list
with the navigation out of their way, plain labels, filters offering only values that occur,
and the index's counts for today — each count equal to the rows its link lists."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import OutboundEmail
from enquiries.models import Enquiry
from orders.models import Order
from orders.services import checkout
from tests.enquiries.conftest import report, sales_group, sales_user, superuser  # noqa: F401
from tests.factories import ContactFactory, EnquiryFactory, SampleRequestFactory

pytestmark = pytest.mark.django_db


def desk(client, user) -> dict[str, tuple[int, str]]:
    client.force_login(user)
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    return {c.label: (c.count, c.url) for c in page.context["desk_counts"]}


def listed(client, url) -> int:
    page = client.get(url)
    assert page.status_code == 200, url
    return page.context["cl"].result_count


def test_the_index_counts_today_and_each_count_lists_its_rows(client, superuser, report):  # noqa: F811
    now = timezone.now()
    SampleRequestFactory.create_batch(2, report=report)
    old = SampleRequestFactory(report=report)
    type(old).objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    late = EnquiryFactory(report=report)  # unanswered, days old: past its SLA
    Enquiry.objects.filter(pk=late.pk).update(created_at=now - timedelta(days=5))
    EnquiryFactory(report=report)  # unanswered, new
    EnquiryFactory(report=report, first_response_at=now, status=Enquiry.Status.WAITING)
    terms = checkout.purchase_terms_list(licence=report.licences.get(kind="single"))
    for flagged in (True, False):
        order = checkout.order_create(
            report=report,
            terms=terms,
            buyer_email="b@acme.example",
            buyer_name="B",
            buyer_company="A",
        )
        Order.objects.filter(pk=order.pk).update(needs_attention=flagged)

    counts = desk(client, superuser)
    expected = {
        "Sample requests today": 2,
        "Enquiries today": 2,
        "Unanswered enquiries": 2,
        "Past their SLA": 1,
        "Orders needing attention": 1,
    }
    assert {label: count for label, (count, _url) in counts.items()} == expected
    for label, (count, url) in counts.items():
        assert listed(client, url) == count, label

    html = client.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in html
    assert "Reliable Research IQ · sales desk" in html
    assert "Today at the desk" in html


def test_sales_see_the_counts_of_the_lists_they_may_view(client, sales_user):  # noqa: F811
    counts = desk(client, sales_user)
    assert "Unanswered enquiries" in counts and "Sample requests today" in counts
    for _label, (_count, url) in counts.items():
        assert client.get(url).status_code == 200


def test_lists_are_headed_by_what_they_list_without_the_navigation(client, superuser, report):  # noqa: F811
    client.force_login(superuser)
    EnquiryFactory(report=report)
    for name, heading in [
        ("enquiries_enquiry", "Enquiries"),
        ("orders_order", "Orders"),
        ("contacts_outboundemail", "Outbound emails"),
    ]:
        html = client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert f"<h1>{heading}</h1>" in html, name
        assert re.search(rf"<title>{heading} \|", html), name
        assert "to change" not in html.split("<h1>", 1)[1].split("</h1>", 1)[0]
        assert 'id="nav-sidebar"' not in html, name
    # A change form keeps the navigation.
    enquiry = Enquiry.objects.first()
    change = client.get(reverse("admin:enquiries_enquiry_change", args=[enquiry.pk]))
    assert 'id="nav-sidebar"' in change.content.decode()


def test_the_authenticator_section_reads_in_words(client, superuser):  # noqa: F811
    client.force_login(superuser)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Two-factor devices" in html
    assert "OTP_TOTP" not in html and "Otp_Totp" not in html


def test_filters_offer_only_the_values_that_occur(client, superuser, report):  # noqa: F811
    client.force_login(superuser)
    ContactFactory(email="a@x.example", country="DE")
    ContactFactory(email="b@x.example", country="JP")
    ContactFactory(email="c@x.example")
    page = client.get(reverse("admin:contacts_contact_changelist"))
    country = next(
        f for f in page.context["cl"].filter_specs if getattr(f, "parameter_name", "") == "country"
    )
    assert [label for _value, label in country.lookup_choices] == ["Germany", "Japan"]
    assert listed(client, reverse("admin:contacts_contact_changelist") + "?country=JP") == 1

    OutboundEmail.objects.create(
        to="a@x.example", subject="Your sample", template="enquiries/email/sample_ready.txt"
    )
    page = client.get(reverse("admin:contacts_outboundemail_changelist"))
    kind = next(
        f for f in page.context["cl"].filter_specs if getattr(f, "parameter_name", "") == "template"
    )
    assert kind.lookup_choices == [("enquiries/email/sample_ready.txt", "Sample ready (enquiries)")]
    html = page.content.decode()
    assert "Sample ready (enquiries)" in html
    assert "enquiries/email/sample_ready.txt</td>" not in html

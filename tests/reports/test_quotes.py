"""Special-price links: staff can withdraw one, a quote for a licence no longer sold is
refused, and the link carries no personal data."""

import base64
from decimal import Decimal

import pytest
from django.core import signing

from enquiries.models import EnquiryReply
from orders.models import Order
from orders.quotes import SALT
from tests.reports.orders_support import order_started, purchase_post, quote_for
from tests.support.staff import sales_member

pytestmark = pytest.mark.django_db


def quote_page(client, report, token):
    return client.get(f"/purchase/{report.number}?quote={token}").content.decode()


def pay_with(client, report, token):
    return purchase_post(client, report, query=f"?quote={token}", quote=token, licence="enterprise")


def test_staff_withdraw_a_quote_and_its_link_stops_working(client, stripe, report_on_sale):
    token = quote_for(report_on_sale)
    assert "USD 6,500" in quote_page(client, report_on_sale, token)
    reply = EnquiryReply.objects.get()

    staff = client.__class__()
    staff.force_login(sales_member())
    url = f"/admin/enquiries/enquiry/{reply.enquiry_id}/reply/{reply.pk}/withdraw-quote/"
    thread = staff.get(f"/admin/enquiries/enquiry/{reply.enquiry_id}/change/").content.decode()
    assert "Withdraw this price" in thread
    assert staff.post(url).status_code == 302
    reply.refresh_from_db()
    assert reply.quote_revoked_at is not None and reply.quote_revoked_by.username == "sasha"

    page = quote_page(client, report_on_sale, token)
    assert "This quote has been withdrawn" in page and "USD 6,500" not in page
    response = pay_with(client, report_on_sale, token)
    assert response.status_code == 200 and not Order.objects.exists()


def test_withdrawing_needs_the_right_to_answer_the_enquiry(client, report_on_sale):
    from tests.factories import UserFactory

    quote_for(report_on_sale)
    reply = EnquiryReply.objects.get()
    client.force_login(UserFactory(username="viewer"))
    url = f"/admin/enquiries/enquiry/{reply.enquiry_id}/reply/{reply.pk}/withdraw-quote/"
    assert client.post(url).status_code == 403
    assert EnquiryReply.objects.get().quote_revoked_at is None


def test_a_quote_for_a_licence_no_longer_sold_is_refused(client, stripe, report_on_sale):
    token = quote_for(report_on_sale)
    report_on_sale.licences.filter(kind="enterprise").update(is_active=False)
    page = quote_page(client, report_on_sale, token)
    assert "no longer sold" in page and "USD 6,500" not in page
    assert pay_with(client, report_on_sale, token).status_code == 200
    assert not Order.objects.exists()


def test_a_valid_quote_still_buys_at_its_price(client, stripe, report_on_sale):
    token = quote_for(report_on_sale)
    order = order_started(
        client, report_on_sale, stripe, query=f"?quote={token}", quote=token, licence="single"
    )
    assert (order.price, order.licence_kind, order.buyer_email) == (
        Decimal("6500.00"),
        "enterprise",
        "cfo@acme-pharma.example",
    )


def test_the_link_carries_no_email_address(report_on_sale):
    token = quote_for(report_on_sale)
    payload = token.split(":")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"cfo" not in decoded and b"@" not in decoded


def test_links_signed_before_quotes_named_their_reply_still_work_and_can_be_withdrawn(
    client, stripe, report_on_sale
):
    quote_for(report_on_sale)
    legacy = signing.dumps(
        {
            "r": report_on_sale.number,
            "l": "enterprise",
            "p": "6500.00",
            "c": "USD",
            "e": "cfo@acme-pharma.example",
        },
        salt=SALT,
        compress=True,
    )
    assert "USD 6,500" in quote_page(client, report_on_sale, legacy)
    EnquiryReply.objects.update(quote_revoked_at="2026-01-01T00:00Z")
    assert "withdrawn" in quote_page(client, report_on_sale, legacy)

    unknown = signing.dumps(
        {"r": report_on_sale.number, "l": "enterprise", "p": "1.00", "c": "USD", "e": "x@y.z"},
        salt=SALT,
        compress=True,
    )
    assert "This quote link is not valid" in quote_page(client, report_on_sale, unknown)

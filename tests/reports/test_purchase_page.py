"""The purchase page: licences and prices, the buyer's details, quotes, promotion codes, and
"Pay" creating our pending order before the Stripe Checkout Session."""

from decimal import Decimal

import pytest

from contacts.models import Contact
from orders.models import Order, OrderEvent
from reports.models import Report
from tests.reports.orders_support import BUYER, order_started, purchase_post, quote_for

pytestmark = pytest.mark.django_db


def sessions_created(stripe) -> list[dict]:
    return [r for r in stripe.requests if r["method"] == "POST" and r["path"].endswith("sessions")]


def test_page_lists_each_licence_with_price_and_what_it_allows(client, stripe, report_on_sale):
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    for name, price in [("Single user", "3,900"), ("Multi-user", "5,900"), ("Enterprise", "7,900")]:
        assert name in page and f"USD {price}" in page
    assert "1 named user" in page and "Up to 5 users" in page
    assert "Unlimited users in your organisation" in page
    assert '<meta name="robots" content="noindex">' in page


def test_licence_in_the_query_string_is_preselected(client, stripe, report_on_sale):
    page = client.get(f"/purchase/{report_on_sale.number}?licence=multi").content.decode()
    assert 'value="multi"\n                  checked' in page
    assert 'value="single"\n                  checked' not in page


def test_unknown_or_draft_report_is_404(client, stripe, report_on_sale):
    assert client.get("/purchase/999").status_code == 404
    Report.objects.filter(pk=report_on_sale.pk).update(status=Report.Status.DRAFT)
    assert client.get(f"/purchase/{report_on_sale.number}").status_code == 404


def test_without_stripe_keys_the_page_offers_an_invoice_instead(client, report_on_sale, settings):
    settings.STRIPE_SECRET_KEY = ""
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    assert "Online payment is unavailable" in page
    invoice = f"/enquiry/pre-order-enquiry/{report_on_sale.number}?type=invoice&amp;licence=multi"
    assert invoice in page
    response = client.post(f"/purchase/{report_on_sale.number}", {"licence": "single", **BUYER})
    assert response.status_code == 200 and not Order.objects.exists()


def test_an_upcoming_report_is_pre_ordered_by_enquiry(client, stripe, report_on_sale):
    Report.objects.filter(pk=report_on_sale.pk).update(status=Report.Status.UPCOMING)
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    assert "not published yet" in page and "Pay securely" not in page


def test_pay_creates_the_pending_order_then_the_checkout_session(client, stripe, report_on_sale):
    response = purchase_post(
        client,
        report_on_sale,
        licence="multi",
        vat_id="de 123.456.789",
        email="Jane.Doe@ACME-pharma.example",
        query="?utm_source=newsletter&utm_campaign=q3-cro",
    )
    order = Order.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"{stripe.base_url}/pay/{order.stripe_session_id}"
    assert order.reference.startswith("SMO-") and len(order.reference) == len("SMO-2026-000001")
    assert (order.status, order.licence_kind, order.price, order.currency) == (
        Order.Status.PENDING,
        "multi",
        Decimal("5900.00"),
        "USD",
    )
    assert (order.buyer_email, order.buyer_vat_id) == (
        "jane.doe@acme-pharma.example",
        "DE123456789",
    )
    assert (order.utm_source, order.utm_campaign) == ("newsletter", "q3-cro")
    assert order.contact == Contact.objects.get(email="jane.doe@acme-pharma.example")
    assert list(order.events.values_list("kind", flat=True)) == ["created", "checkout_started"]

    [call] = sessions_created(stripe)
    params = call["params"]
    assert call["key"] == f"{order.reference}-checkout-0"
    assert params["mode"] == "payment" and params["client_reference_id"] == order.reference
    assert params["customer_email"] == "jane.doe@acme-pharma.example"
    assert params["line_items"][0]["price_data"]["unit_amount"] == "590000"
    assert params["line_items"][0]["price_data"]["currency"] == "usd"
    assert params["metadata"]["order_reference"] == order.reference
    assert params["success_url"].endswith(
        f"/purchase/complete/{order.reference}?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert f"cancelled={order.reference}" in params["cancel_url"]
    assert params["allow_promotion_codes"] == "true"


def test_order_references_count_up_within_the_year(client, stripe, report_on_sale):
    first = order_started(client, report_on_sale, stripe)
    second = order_started(client, report_on_sale, stripe, name="John Roe")
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address"),
        ("name", "", "This field is required"),
        ("company", "Acme\r\nBcc: x@y.z", "Please remove line breaks"),
        ("vat_id", "123", "country prefix"),
        ("terms", None, "Please accept the terms"),
        ("licence", "platinum", "Select a valid choice"),
        ("promotion_code", "50% off!", "only letters, digits"),
    ],
)
def test_bad_input_shows_an_error_and_stores_nothing(
    client, stripe, report_on_sale, field, value, message
):
    response = purchase_post(client, report_on_sale, **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Order.objects.exists() and not sessions_created(stripe)


def test_honeypot_filled_in_stores_nothing(client, stripe, report_on_sale):
    response = purchase_post(client, report_on_sale, website="http://spam.example")
    assert response.status_code == 200 and not Order.objects.exists()


def test_valid_promotion_code_is_applied_as_a_stripe_discount(client, stripe, report_on_sale):
    promo = stripe.promotion_code_add("LAUNCH10", percent_off=10)
    order = order_started(client, report_on_sale, stripe, promotion_code="launch10")
    params = sessions_created(stripe)[0]["params"]
    assert params["discounts"] == [{"promotion_code": promo["id"]}]
    assert "allow_promotion_codes" not in params
    assert (order.promotion_code, order.stripe_promotion_code_id) == ("launch10", promo["id"])


def test_unknown_promotion_code_is_a_field_error(client, stripe, report_on_sale):
    stripe.promotion_code_add("OLD", percent_off=10, active=False)
    response = purchase_post(client, report_on_sale, promotion_code="OLD")
    assert "not valid for payments in USD, or has expired" in response.content.decode()
    assert not Order.objects.exists()


def test_quote_link_shows_the_quoted_price_locked_to_its_licence_and_email(
    client, stripe, report_on_sale
):
    token = quote_for(report_on_sale)
    page = client.get(f"/purchase/{report_on_sale.number}?quote={token}").content.decode()
    assert "Your quoted price:" in page and "USD 6,500" in page
    assert 'value="cfo@acme-pharma.example"' in page and "disabled" in page
    assert 'value="single"' not in page  # only the quoted licence is offered


def test_paying_a_quote_uses_its_terms_whatever_the_browser_posts(client, stripe, report_on_sale):
    token = quote_for(report_on_sale)
    order = order_started(
        client,
        report_on_sale,
        stripe,
        query=f"?quote={token}",
        quote=token,
        licence="single",
        email="someone.else@example.com",
    )
    assert (order.licence_kind, order.price, order.price_source) == (
        "enterprise",
        Decimal("6500.00"),
        Order.PriceSource.QUOTE,
    )
    assert order.buyer_email == "cfo@acme-pharma.example"
    params = sessions_created(stripe)[0]["params"]
    assert params["line_items"][0]["price_data"]["unit_amount"] == "650000"
    assert "allow_promotion_codes" not in params  # a quoted price is final


def test_tampered_or_foreign_quote_is_refused_with_a_clear_message(client, stripe, report_on_sale):
    page = client.get(f"/purchase/{report_on_sale.number}?quote=abc:def").content.decode()
    assert "This quote link is not valid" in page and "USD 3,900" in page
    from tests.factories import LicenceFactory

    other = quote_for(LicenceFactory(kind="enterprise").report)
    page = client.get(f"/purchase/{report_on_sale.number}?quote={other}").content.decode()
    assert "not for this report" in page
    response = purchase_post(
        client, report_on_sale, query="?quote=abc:def", quote="abc:def", licence="single"
    )
    assert response.status_code == 200 and not Order.objects.exists()


def test_stripe_unreachable_keeps_the_pending_order_and_a_retry_continues_it(
    client, stripe, report_on_sale
):
    stripe.unreachable = True
    response = purchase_post(client, report_on_sale)
    assert response.status_code == 200
    assert "nothing has been charged" in response.content.decode()
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and order.stripe_session_id == ""
    assert order.events.filter(kind=OrderEvent.Kind.CHECKOUT_ERROR).exists()

    stripe.unreachable = False
    retry = purchase_post(client, report_on_sale)
    assert retry.status_code == 303
    assert Order.objects.get() == order  # the same order, and its key is unchanged
    assert [c["key"] for c in sessions_created(stripe)] == [f"{order.reference}-checkout-0"]
    assert len(stripe.sessions) == 1


def test_stripe_error_answer_moves_the_retry_to_a_fresh_idempotency_key(
    client, stripe, report_on_sale
):
    stripe.fail_next(1)
    assert "nothing has been charged" in purchase_post(client, report_on_sale).content.decode()
    order = Order.objects.get()
    assert order.checkout_attempts == 1
    assert purchase_post(client, report_on_sale).status_code == 303
    keys = [c["key"] for c in sessions_created(stripe)]
    assert keys == [f"{order.reference}-checkout-0", f"{order.reference}-checkout-1"]
    assert len(stripe.sessions) == 1 and Order.objects.count() == 1


def test_timeout_after_stripe_created_the_session_gets_the_same_session_back(
    client, stripe, report_on_sale
):
    """The idempotency key is derived from the order, so retrying the create call for the
    same order returns the session Stripe already made instead of a second one."""
    from orders.services.checkout import checkout_session_start

    order = order_started(client, report_on_sale, stripe)
    again = checkout_session_start(order=order)
    assert again["id"] == order.stripe_session_id and len(stripe.sessions) == 1


def test_back_from_checkout_and_pay_again_returns_to_the_open_session(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    page = client.get(
        f"/purchase/{report_on_sale.number}?licence=single&cancelled={order.reference}"
    )
    assert "Payment cancelled — nothing was charged" in page.content.decode()
    assert page.context["form"]["company"].value() == "Acme Pharma"
    again = purchase_post(client, report_on_sale)
    assert again["Location"] == order.stripe_session_url
    assert Order.objects.count() == 1 and len(stripe.sessions) == 1


def test_changed_details_start_a_new_order(client, stripe, report_on_sale):
    order_started(client, report_on_sale, stripe)
    order_started(client, report_on_sale, stripe, licence="enterprise")
    assert Order.objects.count() == 2


def test_pay_is_rate_limited_per_address(client, stripe, report_on_sale, settings):
    settings.PURCHASE_RATE_LIMIT = 2
    for _ in range(2):
        purchase_post(client, report_on_sale, name="")
    response = purchase_post(client, report_on_sale)
    assert response.status_code == 429 and not Order.objects.exists()

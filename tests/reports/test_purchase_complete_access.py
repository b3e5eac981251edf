"""The success page opens for the browser that placed the order, or with the order's own
Checkout Session id; a made-up id is refused even while Stripe cannot be asked."""

import pytest
from django.test import Client

from orders.models import Order
from tests.reports.orders_support import order_started

pytestmark = pytest.mark.django_db


def test_a_made_up_session_id_is_404_while_stripe_is_unreachable(client, stripe, report_on_sale):
    order = order_started(client, report_on_sale, stripe)
    stripe.unreachable = True
    stranger = Client()
    for made_up in ("cs_test_made_up", "x", order.stripe_session_id + "x"):
        page = stranger.get(f"/purchase/complete/{order.reference}?session_id={made_up}")
        assert page.status_code == 404
        assert order.buyer_email[1:] not in page.content.decode()
    assert not [r for r in stripe.requests if r["method"] == "GET"]  # Stripe never asked


def test_the_orders_own_session_id_keeps_the_page_refreshing_while_stripe_is_away(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    stripe.session_pay(order.stripe_session_id, deliver=False)
    stripe.unreachable = True
    page = Client().get(
        f"/purchase/complete/{order.reference}?session_id={order.stripe_session_id}"
    )
    assert page.status_code == 200 and "slow to answer" in page.content.decode()


def test_an_order_that_never_reached_stripe_opens_only_in_its_own_browser(
    client, stripe, report_on_sale
):
    stripe.unreachable = True
    order = Order.objects.create(
        reference="SMO-2026-999999",
        report=report_on_sale,
        licence=report_on_sale.licences.first(),
        licence_kind="single",
        licence_name="Single user",
        price=100,
        currency="USD",
        buyer_email="jane@acme.example",
        buyer_name="Jane",
        buyer_company="Acme",
    )
    url = f"/purchase/complete/{order.reference}"
    assert Client().get(f"{url}?session_id=cs_anything").status_code == 404
    assert Client().get(url).status_code == 404

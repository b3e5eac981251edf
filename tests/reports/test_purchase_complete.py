"""The success page: it asks Stripe (a redirect proves nothing), fulfils through the same
service as the webhook, refreshes itself until the report is ready, then offers it."""

import pytest

from orders.models import Order, OrderEvent
from orders.services import fulfilment
from tests.reports.orders_support import fulfilled_order, order_started

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(client, stripe, report_on_sale):
    return order_started(client, report_on_sale, stripe)


def complete_url(order, session_id=None):
    return (
        f"/purchase/complete/{order.reference}?session_id={session_id or order.stripe_session_id}"
    )


def test_success_page_confirms_payment_with_stripe_when_the_webhook_is_late(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, deliver=False)
    page = client.get(complete_url(order))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    html = page.content.decode()
    assert "Payment received — preparing your report" in html
    assert '<meta http-equiv="refresh" content="3">' in html
    retrieves = [r["path"] for r in stripe.requests if r["method"] == "GET"]
    assert retrieves[-3:] == [  # the session, how it was paid, its invoice (for the receipt)
        f"/v1/checkout/sessions/{order.stripe_session_id}",
        f"/v1/payment_intents/{order.stripe_payment_intent_id}",
        f"/v1/invoices/{order.stripe_invoice_id}",
    ]
    assert "Card payment (Visa ending 4242)" in html


def test_reloading_the_success_page_fulfils_once_and_stops_asking_stripe(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, deliver=False)
    for _ in range(4):
        assert client.get(complete_url(order)).status_code == 200
    order.refresh_from_db()
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1
    gets = [r for r in stripe.requests if r["method"] == "GET" and "sessions/cs_" in r["path"]]
    assert len(gets) == 1  # once paid, reloads read our database only


def test_success_page_before_payment_offers_the_payment_page_and_changes_nothing(
    client, stripe, order
):
    html = client.get(complete_url(order)).content.decode()
    assert "Waiting for your payment" in html
    assert f'href="{order.stripe_session_url}">Return to the payment page' in html
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_success_page_with_a_session_of_another_order_is_404(client, stripe, report_on_sale, order):
    other = order_started(client, report_on_sale, stripe, name="John Roe")
    stripe.session_pay(other.stripe_session_id, deliver=False)
    assert client.get(complete_url(order, other.stripe_session_id)).status_code == 404
    assert client.get(complete_url(order, "cs_test_made_up")).status_code == 404
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_success_page_without_session_id_is_only_for_the_browser_that_ordered(
    client, stripe, order, django_user_model
):
    from django.test import Client

    assert client.get(f"/purchase/complete/{order.reference}").status_code == 200
    assert Client().get(f"/purchase/complete/{order.reference}").status_code == 404


def test_stripe_unreachable_on_the_success_page_keeps_refreshing(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, deliver=False)
    stripe.unreachable = True
    html = client.get(complete_url(order)).content.decode()
    assert "slow to answer" in html and 'http-equiv="refresh"' in html
    stripe.unreachable = False
    client.get(complete_url(order))
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_unpaid_async_checkout_shows_waiting_for_the_bank(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, outcome="async", deliver=False)
    html = client.get(complete_url(order)).content.decode()
    assert "Waiting for your payment" in html
    assert '<meta http-equiv="refresh" content="30">' in html


def test_fulfilled_order_offers_the_download_to_the_buyers_browser_only(
    client, stripe, report_on_sale
):
    from django.test import Client

    order, _ = fulfilled_order(report_on_sale)
    session = client.session
    session["orders"] = [order.reference]
    session.save()
    order.stripe_session_id = "cs_test_done"
    order.save()
    html = client.get(complete_url(order)).content.decode()
    assert "Your report is ready" in html and "Download your report (PDF)" in html
    assert 'http-equiv="refresh"' not in html
    response = client.post(f"/purchase/complete/{order.reference}/download")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert order.downloads.count() == 1

    stranger = Client().get(complete_url(order)).content.decode()
    assert "Download your report (PDF)" not in stranger and "emailed the download link" in stranger
    assert Client().post(f"/purchase/complete/{order.reference}/download").status_code == 404


def test_refunded_order_page_says_so(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, deliver=False)
    client.get(complete_url(order))
    from orders.services import refunds

    refunds.order_refund(order=order)
    html = client.get(complete_url(order)).content.decode()
    assert "This order was refunded" in html and 'http-equiv="refresh"' not in html


def test_failed_payment_page_offers_to_try_again(client, stripe, order):
    stripe.session_pay(order.stripe_session_id, outcome="async", deliver=False)
    session = stripe.sessions[order.stripe_session_id]
    fulfilment.order_payment_failed(order=order, session=session)
    html = client.get(f"/purchase/complete/{order.reference}").content.decode()
    assert "did not go through" in html and "Try again" in html

"""Stripe refusing connections, answering 500, or never answering: the buyer gets a clear page
within seconds (every call has a total deadline, retries included), the order is kept
pending, and pressing Pay again makes exactly one Checkout Session."""

import time

import pytest

from orders.models import Order
from tests.reports.orders_support import purchase_post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fault", ["refused", "500", "hanging"])
def test_a_stripe_outage_gives_a_page_in_seconds_and_pay_again_makes_one_session(
    fault, client, stripe, stripe_server, report_on_sale, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.STRIPE_DEADLINE_SECONDS = 8
    if fault == "refused":
        settings.STRIPE_API_BASE = "http://127.0.0.1:1"  # nothing listens there
    elif fault == "500":
        stripe.fail_next(10)
    else:
        stripe.hang()

    started = time.monotonic()
    response = purchase_post(client, report_on_sale)
    waited = time.monotonic() - started

    stripe.hang(False)
    print(f"\nFIGURE Stripe {fault}: the buyer's page after {waited:.2f}s")
    assert waited < 10, f"the buyer waited {waited:.1f}s"
    assert response.status_code == 200
    assert b"We could not reach our payment provider" in response.content
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and not order.stripe_session_id

    settings.STRIPE_API_BASE = stripe_server.url
    stripe.fail_next(0)
    again = purchase_post(client, report_on_sale)
    assert again.status_code == 303
    order.refresh_from_db()
    assert Order.objects.count() == 1 and order.stripe_session_id
    assert len(stripe.sessions) == 1  # one Checkout Session, however many presses

"""Stripe refusing connections, answering 500, never answering, or answering slowly: the buyer
gets a clear page within STRIPE_DEADLINE_SECONDS (one deadline for everything a press of Pay
or the success page asks Stripe, retries included), the order is kept pending, and pressing
Pay again makes exactly one Checkout Session."""

import time

import pytest

from orders.models import Order
from tests.reports.orders_support import order_started, purchase_post

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


def test_one_press_of_pay_has_one_deadline_however_many_stripe_calls_it_makes(
    client, stripe, report_on_sale, settings
):
    """A buyer with a promotion code whose two earlier Checkout pages expired presses Pay:
    that press asks Stripe four times (the code, both earlier sessions, a new session). Each
    answer is slow but well within the per-request timeout; the press as a whole still gives
    the buyer a page within STRIPE_DEADLINE_SECONDS (per call, it would take 4 × 1.5 s)."""
    settings.STRIPE_TIMEOUT_SECONDS = 2.5
    settings.STRIPE_DEADLINE_SECONDS = 3
    stripe.promotion_code_add("SPRING", percent_off=10)
    earlier = []
    for _ in range(2):
        earlier.append(order_started(client, report_on_sale, stripe, promotion_code="SPRING"))
        stripe.session_expire(earlier[-1].stripe_session_id, deliver=False)
    stripe.delay(1.5)

    started = time.monotonic()
    response = purchase_post(client, report_on_sale, promotion_code="SPRING")
    waited = time.monotonic() - started

    print(f"\nFIGURE slow Stripe, four calls in one press: the buyer's page after {waited:.2f}s")
    assert waited < settings.STRIPE_DEADLINE_SECONDS + 0.75, f"the buyer waited {waited:.1f}s"
    assert response.status_code == 200
    assert b"We could not reach our payment provider" in response.content
    assert Order.objects.count() == 2 and len(stripe.sessions) == 2  # nothing made yet

    stripe.delays.clear()
    again = purchase_post(client, report_on_sale, promotion_code="SPRING")
    assert again.status_code == 303
    new = Order.objects.exclude(pk__in=[order.pk for order in earlier]).get()
    assert again["Location"] == new.stripe_session_url
    assert len(stripe.sessions) == 3  # one new Checkout Session for the one new order


def test_a_create_cut_off_by_the_deadline_is_found_again_not_made_twice(
    client, stripe, report_on_sale, settings
):
    """The promotion code's check and the create are both slow; Stripe makes the session but
    its answer comes after the press's deadline. The buyer gets a page in time, and pressing
    Pay again gets the session Stripe made (same idempotency key), not a second one."""
    settings.STRIPE_TIMEOUT_SECONDS = 3.5
    settings.STRIPE_DEADLINE_SECONDS = 4
    stripe.promotion_code_add("SPRING", percent_off=10)
    stripe.delay(2, method="GET", path="/v1/promotion_codes")
    stripe.delay(6, method="POST", path="/v1/checkout/sessions")

    started = time.monotonic()
    response = purchase_post(client, report_on_sale, promotion_code="SPRING")
    waited = time.monotonic() - started

    print(f"\nFIGURE slow code check and create: the buyer's page after {waited:.2f}s")
    assert waited < settings.STRIPE_DEADLINE_SECONDS + 0.75, f"the buyer waited {waited:.1f}s"
    assert b"We could not reach our payment provider" in response.content
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING and not order.stripe_session_id
    assert len(stripe.sessions) == 1  # Stripe made it; we did not hear

    stripe.delays.clear()
    again = purchase_post(client, report_on_sale, promotion_code="SPRING")
    assert again.status_code == 303
    order.refresh_from_db()
    assert Order.objects.count() == 1 and len(stripe.sessions) == 1
    assert order.stripe_session_id == next(iter(stripe.sessions))
    creates = [r for r in stripe.requests if r["path"] == "/v1/checkout/sessions"]
    assert len({r["key"] for r in creates}) == 1 and len(creates) == 2


def test_the_success_page_asks_stripe_twice_within_one_deadline(
    client, stripe, report_on_sale, settings
):
    """Back from Checkout before the webhook: the page asks Stripe for the session, then how it
    was paid. Both are slow; the page still comes within the deadline, and the payment Stripe
    confirmed is recorded even though the second answer came too late (the session offered
    cards only, so the receipt says card, without the brand)."""
    order = order_started(client, report_on_sale, stripe)
    stripe.session_pay(order.stripe_session_id, deliver=False)
    settings.STRIPE_TIMEOUT_SECONDS = 2.5
    settings.STRIPE_DEADLINE_SECONDS = 3
    stripe.delay(2)  # per call, the page would take 2 × 2 s

    started = time.monotonic()
    page = client.get(f"{order.get_absolute_url()}?session_id={order.stripe_session_id}")
    waited = time.monotonic() - started

    print(f"\nFIGURE slow Stripe on the success page: the page after {waited:.2f}s")
    assert waited < settings.STRIPE_DEADLINE_SECONDS + 0.75, f"the buyer waited {waited:.1f}s"
    assert b"Payment received" in page.content
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_method_description == "Card payment"

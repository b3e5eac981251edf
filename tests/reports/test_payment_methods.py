"""The receipt, the order page, the download page and admin name the payment method Stripe
reports for the payment (its PaymentIntent's PaymentMethod, from the Stripe test server),
recorded once when the order is paid, whether the webhook or reconciliation marks it paid.
"Card payment" is said for cards only."""

import pytest
from django.core.management import call_command

from contacts.models import OutboundEmail
from orders.models import Order
from orders.services import downloads, fulfilment
from tests.reports.orders_support import order_started, path_of, webhook_deliver_and_process

pytestmark = pytest.mark.django_db


def receipt_of(order) -> OutboundEmail:
    return OutboundEmail.objects.get(dedupe_key=f"receipt:{order.reference}")


@pytest.fixture
def order(client, stripe, report_on_sale):
    return order_started(client, report_on_sale, stripe)


def pay_through_webhooks(client, stripe, order, method, **details):
    """Checkout completes; a delayed method is confirmed by the bank days later."""
    completed = stripe.session_pay(order.stripe_session_id, method=method, deliver=False, **details)
    webhook_deliver_and_process(client, stripe, completed)
    if completed["data"]["object"]["payment_status"] != "paid":
        order.refresh_from_db()
        assert order.status == Order.Status.PENDING
        succeeded = stripe.async_payment_succeed(order.stripe_session_id, deliver=False)
        webhook_deliver_and_process(client, stripe, succeeded)
    order.refresh_from_db()


@pytest.mark.parametrize(
    ("method", "details", "described"),
    [
        ("card", {}, "Card payment (Visa ending 4242)"),
        ("card", {"brand": "mastercard", "display_brand": "mastercard", "last4": "4444"},
         "Card payment (Mastercard ending 4444)"),
        ("card", {"wallet": {"type": "apple_pay"}}, "Card payment (Visa ending 4242, Apple Pay)"),
        ("sepa_debit", {}, "SEPA Direct Debit (account ending 3000)"),
        ("bacs_debit", {}, "Bacs Direct Debit (account ending 2345)"),
        ("us_bank_account", {}, "ACH Direct Debit (STRIPE TEST BANK account ending 6789)"),
        ("customer_balance", {}, "Bank transfer"),
        ("link", {}, "Link"),
    ],
)  # fmt: skip
def test_the_receipt_and_order_page_name_the_method_stripe_reports(
    client, stripe, order, method, details, described
):
    pay_through_webhooks(client, stripe, order, method, **details)

    assert order.status == Order.Status.PAID
    assert (order.payment_method_type, order.payment_method_description) == (method, described)
    receipt = receipt_of(order)
    assert f"Payment:   {described}, processed by Stripe" in receipt.body_text
    assert f"<td>{described}, processed by Stripe</td>" in receipt.body_html
    assert ("card payment" in receipt.body_text.lower()) == (method == "card")
    page = client.get(order.get_absolute_url()).content.decode()
    assert f'<dd class="col-sm-8" id="payment-method">{described}</dd>' in page


def test_the_download_page_and_admin_show_the_method(client, admin_client, stripe, order):
    pay_through_webhooks(client, stripe, order, "sepa_debit")
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FULFILLED)
    _, url = downloads.download_link_create(order=order)

    page = client.get(path_of(url)).content.decode()
    assert "Paid USD 3,900.00: SEPA Direct Debit (account ending 3000)." in page
    admin = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "SEPA Direct Debit (account ending 3000)" in admin and "sepa_debit" in admin
    listed = admin_client.get("/admin/orders/order/?payment_method_type=sepa_debit")
    assert order.reference in listed.content.decode()
    assert (
        order.reference
        not in admin_client.get("/admin/orders/order/?payment_method_type=card").content.decode()
    )


def test_reconciliation_records_the_method_as_the_webhook_does(client, stripe, order, capsys):
    """The webhook never arrived: the reconciliation run marks the order paid through the same
    service, which asks Stripe how it was paid."""
    stripe.session_pay(order.stripe_session_id, method="bacs_debit", deliver=False)
    stripe.async_payment_succeed(order.stripe_session_id, deliver=False)

    call_command("stripe_reconcile", hours=1)
    assert "1 order(s) updated" in capsys.readouterr().out
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_method_description == "Bacs Direct Debit (account ending 2345)"
    assert "Payment:   Bacs Direct Debit (account ending 2345)" in receipt_of(order).body_text
    intent_reads = [r for r in stripe.requests if r["path"].startswith("/v1/payment_intents/")]
    assert [r["params"] for r in intent_reads] == [{"expand": ["payment_method"]}]


def test_a_confirmed_payment_is_not_held_up_when_stripe_cannot_say_how_it_was_paid(
    client, stripe, order
):
    """The PaymentIntent look-up fails: the order is paid all the same. The session offered
    cards only, so the receipt says card, without a brand it does not know."""
    completed = stripe.session_pay(order.stripe_session_id, deliver=False)
    stripe.fail_next(1)  # the look-up of the PaymentIntent
    webhook_deliver_and_process(client, stripe, completed)

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_method_description == "Card payment"
    assert "Payment:   Card payment, processed by Stripe" in receipt_of(order).body_text
    assert "Card payment)" in order.events.get(kind="paid").message


def test_a_paid_order_is_not_asked_about_again(client, stripe, order):
    """Fulfilment runs any number of times (webhook retries, success page, reconciliation);
    only the call that may mark the order paid asks Stripe how it was paid."""
    completed = stripe.session_pay(order.stripe_session_id, deliver=False)
    webhook_deliver_and_process(client, stripe, completed)
    before = len(stripe.requests)
    for _ in range(3):
        result = fulfilment.order_fulfil(order=order, session=completed["data"]["object"])
        assert result.startswith("already")
    assert len(stripe.requests) == before

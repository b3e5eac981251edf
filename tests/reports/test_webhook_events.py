"""The webhook endpoint: signatures checked on the raw body, each event stored once, work
left to the task; the task's retries, failure record and the sweeper."""

import pytest
from django.utils import timezone

from reports.models import Order, StripeEvent
from reports.services import webhooks
from tests.reports.orders_support import order_started, webhook_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed_event(client, stripe, report_on_sale):
    order = order_started(client, report_on_sale, stripe)
    return stripe.session_pay(order.stripe_session_id, deliver=False)


@pytest.mark.parametrize("signature", ["missing", "bad", "stale", "tampered"])
def test_unverifiable_webhook_is_refused_with_400_and_nothing_is_stored(
    client, stripe, completed_event, signature
):
    response = webhook_post(client, stripe, completed_event, signature=signature)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert Order.objects.get().status == Order.Status.PENDING


def test_webhook_without_a_configured_secret_refuses_everything(
    client, stripe, completed_event, settings
):
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert webhook_post(client, stripe, completed_event).status_code == 400
    assert not StripeEvent.objects.exists()


def test_signature_older_than_the_configured_tolerance_is_stale(
    client, stripe, completed_event, settings
):
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = 900  # the helper signs "stale" 600 s ago
    assert webhook_post(client, stripe, completed_event, signature="stale").status_code == 200


def test_webhook_only_accepts_post(client, stripe):
    assert client.get("/stripe/webhook/").status_code == 405


def test_signed_body_that_is_not_an_event_is_refused(client, stripe):
    response = webhook_post(client, stripe, {"id": "evt_1", "object": "charge", "type": "x"})
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_verified_event_is_stored_once_and_acknowledged_before_processing(
    client, stripe, completed_event
):
    first = webhook_post(client, stripe, completed_event)
    again = webhook_post(client, stripe, completed_event)
    assert first.status_code == again.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    row = StripeEvent.objects.get()
    assert (row.stripe_id, row.type, row.status) == (
        completed_event["id"],
        "checkout.session.completed",
        StripeEvent.Status.PENDING,
    )
    assert row.payload == completed_event
    assert Order.objects.get().status == Order.Status.PENDING  # the task does the work


def test_processing_the_stored_event_fulfils_the_order_and_records_the_result(
    client, stripe, completed_event
):
    webhook_post(client, stripe, completed_event)
    row = webhooks.stripe_event_process(event_id=StripeEvent.objects.get().pk)
    order = Order.objects.get()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.result.startswith("paid") and row.order == order and row.attempts == 1
    assert order.status == Order.Status.PAID
    # a second run (a redelivered task message) changes nothing
    again = webhooks.stripe_event_process(event_id=row.pk)
    assert again.attempts == 1 and order.events.filter(kind="paid").count() == 1


def test_unhandled_event_types_are_stored_and_acknowledged(client, stripe):
    event = stripe.event_build("customer.created", {"id": "cus_1", "object": "customer"})
    assert webhook_post(client, stripe, event).status_code == 200
    row = webhooks.stripe_event_process(event_id=StripeEvent.objects.get().pk)
    assert row.status == StripeEvent.Status.IGNORED


def test_event_for_an_order_we_do_not_have_is_processed_as_ignored(client, stripe):
    session = {"id": "cs_x", "object": "checkout.session", "client_reference_id": "SMO-1999-1"}
    event = stripe.event_build("checkout.session.completed", session)
    webhook_post(client, stripe, event)
    row = webhooks.stripe_event_process(event_id=StripeEvent.objects.get().pk)
    assert row.status == StripeEvent.Status.PROCESSED and "no order" in row.result


def test_processing_error_is_retried_with_backoff_then_marked_failed(
    client, stripe, report_on_sale, settings
):
    """A refund whose order must be looked up in Stripe, while Stripe answers errors."""
    settings.STRIPE_EVENT_MAX_ATTEMPTS = 2
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_unknown", "refunded": True}
    webhook_post(client, stripe, stripe.event_build("charge.refunded", charge))
    row_id = StripeEvent.objects.get().pk
    stripe.fail_next(10)
    first = webhooks.stripe_event_process(event_id=row_id)
    assert first.status == StripeEvent.Status.RETRYING
    assert first.next_attempt_at > timezone.now() and "Stripe error 500" in first.last_error
    second = webhooks.stripe_event_process(event_id=row_id)
    assert second.status == StripeEvent.Status.FAILED and second.attempts == 2
    # staff's "process again" gives it a fresh budget; Stripe is back, no order matches
    stripe.fail_next(0)
    webhooks.stripe_event_reprocess(event=second)
    final = webhooks.stripe_event_process(event_id=row_id)
    assert final.status == StripeEvent.Status.PROCESSED and "no order" in final.result


def test_sweeper_redispatches_events_the_broker_never_delivered(
    client, stripe, completed_event, settings, django_capture_on_commit_callbacks
):
    settings.PAYMENTS_STALE_AFTER_SECONDS = 0
    webhook_post(client, stripe, completed_event)
    with django_capture_on_commit_callbacks() as callbacks:
        assert webhooks.stripe_events_dispatch_stale() == 1
    assert len(callbacks) == 1  # one dispatch, sent after commit

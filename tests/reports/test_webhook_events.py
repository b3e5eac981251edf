"""The webhook endpoint: signatures checked on the raw body, each event stored once, work
left to the task; the task's retries, failure record and the sweeper."""

import pytest
from django.utils import timezone

from orders.models import Order, StripeEvent
from orders.services import webhooks
from tests.reports.orders_support import order_started, webhook_deliver_and_process, webhook_post
from tests.support.jobs import job_of, run_job

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
    row = webhook_deliver_and_process(client, stripe, completed_event)
    order = Order.objects.get()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.result.startswith("paid") and row.order == order
    assert job_of(webhooks.JOB, row.pk).attempts == 1
    assert order.status == Order.Status.PAID
    # a second run (a stray message) finds the job done and changes nothing
    assert run_job(webhooks.JOB, row.pk) == "skipped"
    assert (
        job_of(webhooks.JOB, row.pk).attempts == 1 and order.events.filter(kind="paid").count() == 1
    )


def test_unhandled_event_types_are_stored_and_acknowledged(client, stripe):
    event = stripe.event_build("customer.created", {"id": "cus_1", "object": "customer"})
    row = webhook_deliver_and_process(client, stripe, event)
    assert row.status == StripeEvent.Status.IGNORED


def test_event_for_an_order_we_do_not_have_is_processed_as_ignored(client, stripe):
    session = {"id": "cs_x", "object": "checkout.session", "client_reference_id": "SMO-1999-1"}
    event = stripe.event_build("checkout.session.completed", session)
    row = webhook_deliver_and_process(client, stripe, event)
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
    started = timezone.now()
    assert run_job(webhooks.JOB, row_id).startswith("retry in")
    job = job_of(webhooks.JOB, row_id)
    assert StripeEvent.objects.get(pk=row_id).status == StripeEvent.Status.PENDING
    assert job.due_at > started and "Stripe error 500" in job.last_error
    assert run_job(webhooks.JOB, row_id) == "failed"
    failed = StripeEvent.objects.get(pk=row_id)
    assert failed.status == StripeEvent.Status.FAILED and "Stripe error 500" in failed.last_error
    assert job_of(webhooks.JOB, row_id).attempts == 2
    # staff's "process again" gives it a fresh budget; Stripe is back, no order matches
    stripe.fail_next(0)
    webhooks.stripe_event_reprocess(event=failed)
    assert run_job(webhooks.JOB, row_id) == "done"
    final = StripeEvent.objects.get(pk=row_id)
    assert final.status == StripeEvent.Status.PROCESSED and "no order" in final.result


def test_a_stored_event_is_published_after_commit_with_its_job(
    client, stripe, completed_event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        webhook_post(client, stripe, completed_event)
    row = StripeEvent.objects.get()
    assert job_of(webhooks.JOB, row.pk).state == "pending"
    assert len(callbacks) == 1  # one publish, after commit

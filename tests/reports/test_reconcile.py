"""Reconciliation after a webhook outage: payments, refunds and disputes that Stripe made while
no event reached us are found by asking Stripe's list APIs (the Stripe test server), applied
once, and a second run changes nothing."""

import logging

import pytest
from django.core.management import call_command

from orders.models import DownloadLink, Order, OrderEvent
from orders.services import downloads
from orders.tasks import stripe_reconcile
from tests.reports.orders_support import order_started, webhook_deliver_and_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(client, stripe, report_on_sale):
    """Paid through a webhook that did arrive, with a live download link."""
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, stripe.session_pay(order.stripe_session_id))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    downloads.download_link_create(order=order)
    return order


def reconcile(capsys) -> str:
    call_command("stripe_reconcile", hours=1)
    return capsys.readouterr().out


def test_a_refund_made_during_an_outage_is_recorded_and_access_withdrawn(
    stripe, paid_order, capsys
):
    stripe.refund_session(paid_order.stripe_session_id, deliver=False)
    out = reconcile(capsys)
    assert "1 session(s), 1 refund(s) and 0 dispute(s) checked; 1 order(s) updated" in out
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.REFUNDED
    assert str(paid_order.amount_refunded) == "3900.00"
    assert not DownloadLink.objects.filter(order=paid_order, revoked_at__isnull=True).exists()
    assert "0 order(s) updated" in reconcile(capsys)
    assert paid_order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1


def test_a_partial_refund_is_recorded_once_and_access_kept(stripe, paid_order, capsys):
    stripe.refund_session(paid_order.stripe_session_id, amount=1000, deliver=False)
    assert "1 order(s) updated" in reconcile(capsys)
    assert "0 order(s) updated" in reconcile(capsys)
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.PAID and paid_order.needs_attention
    assert str(paid_order.amount_refunded) == "10.00"
    assert paid_order.events.filter(kind=OrderEvent.Kind.PARTIALLY_REFUNDED).count() == 1
    assert DownloadLink.objects.filter(order=paid_order, revoked_at__isnull=True).exists()


def test_a_dispute_opened_during_an_outage_marks_the_order_disputed(stripe, paid_order, capsys):
    stripe.dispute_create(paid_order.stripe_session_id, deliver=False)
    out = reconcile(capsys)
    assert "1 dispute(s) checked; 1 order(s) updated" in out
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.DISPUTED and paid_order.needs_attention
    assert not DownloadLink.objects.filter(order=paid_order, revoked_at__isnull=True).exists()
    assert "0 order(s) updated" in reconcile(capsys)


def test_a_refund_whose_webhook_arrived_is_in_step(client, stripe, paid_order, capsys):
    stripe.refund_session(paid_order.stripe_session_id, deliver=False)
    charge_refunded = stripe.events[-1]
    webhook_deliver_and_process(client, stripe, charge_refunded)
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.REFUNDED
    out = reconcile(capsys)
    assert "refund" in out and "in step" in out and "0 order(s) updated" in out


def test_a_payment_and_its_refund_both_missed_end_refunded(client, stripe, report_on_sale, capsys):
    order = order_started(client, report_on_sale, stripe)
    stripe.session_pay(order.stripe_session_id, deliver=False)
    stripe.refund_session(order.stripe_session_id, deliver=False)
    out = reconcile(capsys)
    assert "2 order(s) updated" in out
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_refunds_and_disputes_of_other_payments_are_left_alone(
    client, stripe, report_on_sale, capsys
):
    order = order_started(client, report_on_sale, stripe)
    stripe.session_pay(order.stripe_session_id, deliver=False)
    Order.objects.filter(pk=order.pk).delete()  # a payment Stripe knows and we don't
    stripe.refund_session(order.stripe_session_id, deliver=False)
    out = reconcile(capsys)
    assert "not one of our orders" in out and "0 order(s) updated" in out


def test_the_beat_task_reconciles_and_reports_a_summary(stripe, paid_order, settings):
    settings.STRIPE_RECONCILE_HOURS = 1
    stripe.dispute_create(paid_order.stripe_session_id, deliver=False)
    assert stripe_reconcile() == {"checked": 2, "updated": 1}
    paid_order.refresh_from_db()
    assert paid_order.status == Order.Status.DISPUTED


def test_the_beat_task_logs_and_waits_for_the_next_run_when_stripe_is_down(
    stripe, paid_order, caplog
):
    stripe.unreachable = True
    with caplog.at_level(logging.WARNING, logger="orders.services.reconcile"):
        result = stripe_reconcile()
    assert "Stripe reconciliation failed" in caplog.text
    assert result["skipped"].startswith("Listing sessions failed")


def test_the_beat_task_does_nothing_without_stripe(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert stripe_reconcile() == {"skipped": "STRIPE_SECRET_KEY is not set"}

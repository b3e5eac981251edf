"""A won dispute gives the buyer their access back (charge.dispute.closed, status won), in
whatever order Stripe's dispute events arrive, and reconciliation never withdraws access for
a dispute that was won. Events come from the Stripe test server, signed, through the webhook."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts.models import OutboundEmail
from orders.models import Deliverable, Dispute, DownloadLink, Order, OrderEvent
from orders.services import downloads
from tests.reports.orders_support import order_started, webhook_deliver_and_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def fulfilled(client, stripe, report_on_sale):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, stripe.session_pay(order.stripe_session_id))
    Deliverable.objects.create(order=order, path="orders/test/copy.pdf")
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.FULFILLED, fulfilled_at=timezone.now()
    )
    order.refresh_from_db()
    downloads.download_link_create(order=order)
    return order


def live_links(order):
    return DownloadLink.objects.filter(order=order, revoked_at__isnull=True)


def status_of(order):
    order.refresh_from_db()
    return order.status


def dispute_events(stripe, order, *statuses):
    """The dispute's created event, then one per status, with increasing event times."""
    created = stripe.dispute_create(order.stripe_session_id, deliver=False)
    dispute_id = created["data"]["object"]["id"]
    events = [created]
    events += [stripe.dispute_status_set(dispute_id, s, deliver=False) for s in statuses]
    for offset, event in enumerate(events):
        event["created"] = created["created"] + offset
    return dispute_id, events


def test_a_won_dispute_after_a_lost_then_reopened_one_leaves_access_on(
    client, stripe, fulfilled, capsys
):
    dispute_id, (opened, lost, reopened, won) = dispute_events(
        stripe, fulfilled, "lost", "under_review", "won"
    )
    webhook_deliver_and_process(client, stripe, opened)
    assert status_of(fulfilled) == Order.Status.DISPUTED
    assert not live_links(fulfilled).exists()
    webhook_deliver_and_process(client, stripe, lost)
    assert status_of(fulfilled) == Order.Status.DISPUTED
    webhook_deliver_and_process(client, stripe, reopened)
    assert status_of(fulfilled) == Order.Status.DISPUTED

    row = webhook_deliver_and_process(client, stripe, won)
    assert "access restored" in row.result
    assert status_of(fulfilled) == Order.Status.FULFILLED
    assert live_links(fulfilled).count() == 1
    assert fulfilled.events.filter(kind=OrderEvent.Kind.DISPUTE_WON).count() == 1
    assert OutboundEmail.objects.filter(
        template="orders/email/order_download_link", to=fulfilled.buyer_email
    ).exists()
    assert Dispute.objects.get(stripe_id=dispute_id).status == "won"

    # Reconciliation sees the won dispute in Stripe's list: nothing is withdrawn, twice.
    call_command("stripe_reconcile", hours=1)
    call_command("stripe_reconcile", hours=1)
    out = capsys.readouterr().out
    assert "0 order(s) updated" in out
    assert status_of(fulfilled) == Order.Status.FULFILLED
    assert live_links(fulfilled).count() == 1


def test_a_lost_report_arriving_after_the_win_changes_nothing(client, stripe, fulfilled):
    _, (opened, lost, won) = dispute_events(stripe, fulfilled, "lost", "won")
    for event in (opened, won, lost):  # Stripe does not promise the order of events
        webhook_deliver_and_process(client, stripe, event)
    assert status_of(fulfilled) == Order.Status.FULFILLED
    assert live_links(fulfilled).count() == 1


def test_a_lost_dispute_keeps_access_withdrawn_and_reconciliation_agrees(
    client, stripe, fulfilled, capsys
):
    _, (opened, lost) = dispute_events(stripe, fulfilled, "lost")
    webhook_deliver_and_process(client, stripe, opened)
    webhook_deliver_and_process(client, stripe, lost)
    call_command("stripe_reconcile", hours=1)
    assert "0 order(s) updated" in capsys.readouterr().out
    assert status_of(fulfilled) == Order.Status.DISPUTED
    assert not live_links(fulfilled).exists()


def test_a_dispute_won_during_an_outage_restores_access_by_reconciliation(
    stripe, fulfilled, capsys
):
    dispute_id, _ = dispute_events(stripe, fulfilled)
    call_command("stripe_reconcile", hours=1)
    assert status_of(fulfilled) == Order.Status.DISPUTED
    stripe.dispute_status_set(dispute_id, "won", deliver=False)
    call_command("stripe_reconcile", hours=1)
    assert "1 order(s) updated" in capsys.readouterr().out
    assert status_of(fulfilled) == Order.Status.FULFILLED
    assert live_links(fulfilled).count() == 1

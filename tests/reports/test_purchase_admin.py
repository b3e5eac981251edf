"""Staff tools in admin: the order with its timeline, links and downloads; refund, re-send,
extend; Stripe events with "process again"; the sales summary."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from common.models import Job
from orders.models import DownloadLink, Order, StripeEvent
from orders.services import fulfilment, webhooks
from tests.reports.orders_support import fulfilled_order, order_started, webhook_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("sales", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_order", "change_order", "view_stripeevent", "change_stripeevent"]
        )
    )
    client.force_login(user)
    return client, user


def paid_order(client, stripe, report):
    order = order_started(client, report, stripe, name="Jane Doe")
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    order.refresh_from_db()
    return order


def test_order_page_shows_status_stripe_ids_timeline_and_buyer_history(
    admin_client, stripe, report_on_sale
):
    order = paid_order(admin_client, stripe, report_on_sale)
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert order.reference in page and "Paid (preparing the report)" in page
    assert order.stripe_payment_intent_id in page and order.stripe_session_id in page
    for step in ("Order created", "Checkout started", "Paid"):
        assert step in page
    assert "orders: 1" in page  # the contact's earlier activity, linked
    assert "Refund…" in page


def test_order_page_and_list_show_money_with_its_currency(admin_client, stripe, report_on_sale):
    """ "USD 3,900.00", not a bare "3900.00": the list's amount and the page's read-only
    price and payment lines (issue 26)."""
    order = paid_order(admin_client, stripe, report_on_sale)
    assert order.currency == "USD" and order.amount_paid == Decimal("3900.00")
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    paid = re.search(r'field-paid">.*?<div class="readonly">([^<]*)<', page, re.S)
    assert paid and paid.group(1) == "USD 3,900.00"
    assert "USD 3,900.00 (" in page  # the price line, with where the price came from
    assert "3900.00" not in page
    listing = admin_client.get("/admin/orders/order/").content.decode()
    assert '<td class="field-amount"><span class="list-nowrap">USD 3,900.00</span></td>' in listing


def test_order_list_filters_and_searches(admin_client, stripe, report_on_sale):
    order = paid_order(admin_client, stripe, report_on_sale)
    listing = admin_client.get("/admin/orders/order/?status__exact=paid&q=acme")
    assert order.reference in listing.content.decode()
    assert (
        order.reference
        not in admin_client.get("/admin/orders/order/?status__exact=refunded").content.decode()
    )


def test_free_text_filters_list_only_values_that_occur_never_a_blank_link(
    admin_client, report_on_sale
):
    """A blank invoice status or campaign was a filter link with no words (axe: link-name)."""
    blank, _ = fulfilled_order(report_on_sale, email="blank@acme.example")
    tagged, _ = fulfilled_order(report_on_sale, email="tagged@acme.example")
    Order.objects.filter(pk=tagged.pk).update(utm_source="linkedin", invoice_status="open")
    listing = admin_client.get("/admin/orders/order/").content.decode()
    for field in ("invoice_status", "payment_method_type", "utm_source", "utm_campaign"):
        assert f'href="?{field}="' not in listing
    assert 'href="?utm_source=linkedin"' in listing and 'href="?invoice_status=open"' in listing
    filtered = admin_client.get("/admin/orders/order/?utm_source=linkedin").content.decode()
    assert tagged.reference in filtered and blank.reference not in filtered


def test_the_licence_filter_lists_the_licences_sold_by_their_labels(admin_client, report_on_sale):
    """Issue 26: licences read "multi" in admin; the filter listed every kind, sold or not."""
    order, _ = fulfilled_order(report_on_sale)
    Order.objects.filter(pk=order.pk).update(licence_kind="multi")
    listing = admin_client.get("/admin/orders/order/").content.decode()
    assert 'href="?licence_kind=multi"' in listing
    link = listing[listing.index('href="?licence_kind=multi"') :]
    assert link[: link.index("</a>")].endswith(">Multi-user")
    assert "?licence_kind=single" not in listing and "?licence_kind=enterprise" not in listing


def test_refund_needs_the_refund_permission(staff_client, stripe, report_on_sale):
    client, _ = staff_client
    order = paid_order(client, stripe, report_on_sale)
    assert client.get(f"/admin/orders/order/{order.pk}/refund/").status_code == 403
    assert client.post(f"/admin/orders/order/{order.pk}/refund/").status_code == 403
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_refund_from_admin_confirms_then_refunds_in_stripe(admin_client, stripe, report_on_sale):
    order = paid_order(admin_client, stripe, report_on_sale)
    confirm = admin_client.get(f"/admin/orders/order/{order.pk}/refund/")
    assert "every download link of this order stops working" in confirm.content.decode()
    admin_client.post(f"/admin/orders/order/{order.pk}/refund/")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    # A credit note against Checkout's invoice refunds the payment (refunds.py).
    assert [r["key"] for r in stripe.requests if r["path"] == "/v1/credit_notes"] == [
        f"{order.reference}-credit-note-0"
    ]
    assert len(stripe.refunds) == 1
    assert order.events.get(kind="refunded").actor.username == "admin"


def test_refund_that_stripe_refuses_is_reported_and_changes_nothing(
    admin_client, stripe, report_on_sale
):
    order = paid_order(admin_client, stripe, report_on_sale)
    stripe.fail_next(1, status=402)
    response = admin_client.post(f"/admin/orders/order/{order.pk}/refund/", follow=True)
    assert "Not refunded" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refund_attempts == 1


def test_resend_and_extend_buttons(admin_client, report_on_sale):
    order, _ = fulfilled_order(report_on_sale)
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Re-send download link" in page and "Extend the live link" in page
    admin_client.post(f"/admin/orders/order/{order.pk}/resend/")
    assert DownloadLink.objects.filter(order=order, revoked_at__isnull=True).count() == 1
    assert DownloadLink.objects.filter(order=order).count() == 2
    admin_client.post(f"/admin/orders/order/{order.pk}/extend/")
    assert order.events.filter(kind="link_extended").count() == 1


def test_stripe_event_list_shows_results_and_can_process_again(
    admin_client, stripe, report_on_sale
):
    order = order_started(admin_client, report_on_sale, stripe)
    event = stripe.session_pay(order.stripe_session_id, deliver=False)
    webhook_post(admin_client, stripe, event)
    row = StripeEvent.objects.get()
    StripeEvent.objects.filter(pk=row.pk).update(status="failed", last_error="boom")
    Job.objects.filter(kind=webhooks.JOB, target_id=row.pk).update(state="failed", attempts=8)
    listing = admin_client.get("/admin/orders/stripeevent/").content.decode()
    assert event["id"] in listing and "checkout.session.completed" in listing
    admin_client.post(
        "/admin/orders/stripeevent/",
        {"action": "process_again", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    job = Job.objects.get(kind=webhooks.JOB, target_id=row.pk)
    assert (row.status, job.state, job.attempts) == ("pending", "pending", 0)
    detail = admin_client.get(f"/admin/orders/stripeevent/{row.pk}/change/").content.decode()
    assert order.reference in detail  # the payload, pretty-printed


def test_sales_summary_by_report_licence_and_campaign(admin_client, stripe, report_on_sale):
    order = order_started(
        admin_client, report_on_sale, stripe, licence="multi", query="?utm_campaign=spring-cro"
    )
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    order_started(admin_client, report_on_sale, stripe, name="Unpaid Buyer")  # not counted
    page = admin_client.get("/admin/orders/order/sales/?days=7").content.decode()
    assert "Sales in the last 7 days" in page
    assert f"{report_on_sale.number} — {report_on_sale.title}" in page
    # The licence by its label, as the buyer saw it, never its stored value "multi" (issue 26).
    assert "<td>Multi-user</td><td>USD</td><td>1</td><td>5,900.00</td>" in page
    assert "<td>multi</td>" not in page
    assert "<td>spring-cro</td>" in page
    export = admin_client.get("/admin/orders/order/sales/csv/?days=7").content.decode()
    by_licence = [
        row for row in csv.DictReader(io.StringIO(export)) if row["group"] == "by_licence"
    ]
    assert [(row["licence"], row["orders"]) for row in by_licence] == [("Multi-user", "1")]

"""Fulfilment: one idempotent service, whatever calls it (webhook task, success page,
reconciliation), in whatever order Stripe's events arrive."""

import io

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from pypdf import PdfReader

from contacts.models import OutboundEmail
from orders.models import Deliverable, DownloadLink, Order, OrderEvent
from orders.services import fulfilment, refunds
from orders.services.webhooks import order_for_payment
from reports.models import ReportDocument
from tests.reports.orders_support import (
    order_started,
    purchase_post,
    webhook_deliver_and_process,
)
from tests.support.jobs import job_of, run_job, site_callbacks
from tests.support.renders import install_rendered_bases

pytestmark = pytest.mark.django_db


def receipts():
    return OutboundEmail.objects.filter(template="orders/email/order_receipt")


@pytest.fixture
def order(client, stripe, report_on_sale):
    return order_started(client, report_on_sale, stripe)


def test_paid_session_marks_the_order_paid_once_with_one_receipt_and_one_report_job(
    stripe, order, django_capture_on_commit_callbacks
):
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    with django_capture_on_commit_callbacks() as first:
        assert fulfilment.order_fulfil(order=order, session=session).startswith("paid")
    with django_capture_on_commit_callbacks() as again:
        for _ in range(3):
            assert fulfilment.order_fulfil(order=order, session=session).startswith("already")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at
    assert str(order.amount_paid) == "3900.00" and order.stripe_payment_intent_id
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1
    assert receipts().get().dedupe_key == f"receipt:{order.reference}"
    # The receipt's send and the report job; then nothing.
    assert len(site_callbacks(first)) == 2 and not site_callbacks(again)


def test_amount_mismatch_is_not_fulfilled_and_is_flagged_for_staff(stripe, order):
    stripe.session_tamper(order.stripe_session_id, amount_subtotal=100, amount_total=100)
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    result = fulfilment.order_fulfil(order=order, session=session)
    fulfilment.order_fulfil(order=order, session=session)
    order.refresh_from_db()
    assert "amount mismatch" in result
    assert order.status == Order.Status.PENDING
    assert order.amount_mismatch and order.needs_attention
    assert "subtotal 100 instead of 390000" in order.attention_note
    assert order.events.filter(kind=OrderEvent.Kind.AMOUNT_MISMATCH).count() == 1
    assert not receipts().exists()


def test_currency_mismatch_is_not_fulfilled(stripe, order):
    stripe.session_tamper(order.stripe_session_id, currency="eur")
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    assert "currency EUR instead of USD" in fulfilment.order_fulfil(order=order, session=session)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and order.amount_mismatch


def test_promotion_code_discount_is_accepted_and_shown_on_the_receipt(
    client, stripe, report_on_sale
):
    stripe.promotion_code_add("LAUNCH10", percent_off=10)
    order = order_started(client, report_on_sale, stripe, promotion_code="LAUNCH10")
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert (str(order.amount_discount), str(order.amount_paid)) == ("390.00", "3510.00")
    receipt = receipts().get().body_text
    assert "Discount:  USD -390.00" in receipt and "Paid:      USD 3,510.00" in receipt


def test_unpaid_async_checkout_waits_then_succeeds(client, stripe, order):
    completed = stripe.session_pay(order.stripe_session_id, outcome="async", deliver=False)
    event = webhook_deliver_and_process(client, stripe, completed)
    order.refresh_from_db()
    assert event.result == "checkout complete, payment not yet confirmed"
    assert order.status == Order.Status.PENDING and order.stripe_payment_status == "unpaid"
    assert order.events.filter(kind=OrderEvent.Kind.PAYMENT_PROCESSING).count() == 1
    assert not receipts().exists()

    succeeded = stripe.async_payment_succeed(order.stripe_session_id, deliver=False)
    webhook_deliver_and_process(client, stripe, succeeded)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and receipts().count() == 1


def test_unpaid_async_checkout_that_fails_closes_the_order_and_tells_the_buyer(
    client, stripe, order
):
    webhook_deliver_and_process(
        client, stripe, stripe.session_pay(order.stripe_session_id, outcome="async", deliver=False)
    )
    webhook_deliver_and_process(
        client, stripe, stripe.async_payment_fail(order.stripe_session_id, deliver=False)
    )
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and order.closed_at
    email = OutboundEmail.objects.get(template="orders/email/order_payment_failed")
    assert email.to == order.buyer_email and not receipts().exists()
    assert f"/purchase/{order.report.number}?licence=single" in email.body_text


def test_expired_checkout_marks_the_pending_order_abandoned(client, stripe, order):
    stripe.session_expire(order.stripe_session_id, deliver=False)
    expired = stripe.events[-1]
    assert expired["type"] == "checkout.session.expired"
    webhook_deliver_and_process(client, stripe, expired)
    order.refresh_from_db()
    assert order.status == Order.Status.ABANDONED
    assert order.events.filter(kind=OrderEvent.Kind.EXPIRED).count() == 1


def test_refund_that_arrives_before_the_completed_event_wins(client, stripe, order):
    completed = stripe.session_pay(order.stripe_session_id, deliver=False)
    stripe.refund_session(order.stripe_session_id, deliver=False)
    refunded = stripe.events[-1]
    assert refunded["type"] == "charge.refunded"

    result = webhook_deliver_and_process(client, stripe, refunded)
    order.refresh_from_db()
    assert result.order == order and order.status == Order.Status.REFUNDED

    late = webhook_deliver_and_process(client, stripe, completed)
    order.refresh_from_db()
    assert late.result == "order refunded; not fulfilled"
    assert order.status == Order.Status.REFUNDED and order.needs_attention
    assert not receipts().exists()
    assert not order.events.filter(kind=OrderEvent.Kind.PAID).exists()


def test_charge_without_our_metadata_is_matched_through_its_checkout_session(stripe, order):
    stripe.session_pay(order.stripe_session_id, deliver=False)
    charge = dict(stripe.charge_for(order.stripe_session_id), metadata={})
    assert Order.objects.get(pk=order.pk).stripe_payment_intent_id == ""  # not recorded yet
    assert order_for_payment(charge) == order  # found by listing sessions by payment intent


def test_dispute_withdraws_access_and_flags_the_order(client, stripe, order):
    webhook_deliver_and_process(
        client, stripe, stripe.session_pay(order.stripe_session_id, deliver=False)
    )
    DownloadLink.objects.create(
        order=order, token_hash="x" * 64, expires_at="2099-01-01T00:00Z", max_downloads=5
    )
    webhook_deliver_and_process(
        client, stripe, stripe.dispute_create(order.stripe_session_id, deliver=False)
    )
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTED and order.needs_attention
    assert "fraudulent" in order.attention_note
    assert DownloadLink.objects.get().revoke_reason == DownloadLink.RevokeReason.DISPUTED


def test_partial_refund_keeps_access_and_flags_the_order(client, stripe, order):
    webhook_deliver_and_process(
        client, stripe, stripe.session_pay(order.stripe_session_id, deliver=False)
    )
    stripe.refund_session(order.stripe_session_id, amount=50000, deliver=False)
    webhook_deliver_and_process(client, stripe, stripe.events[-1])
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and str(order.amount_refunded) == "500.00"
    assert order.needs_attention


def test_staff_refund_calls_stripe_once_and_revokes_links(client, stripe, order, admin_user):
    webhook_deliver_and_process(
        client, stripe, stripe.session_pay(order.stripe_session_id, deliver=False)
    )
    DownloadLink.objects.create(
        order=order, token_hash="y" * 64, expires_at="2099-01-01T00:00Z", max_downloads=5
    )
    refunds.order_refund(order=order, actor=admin_user)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and str(order.amount_refunded) == "3900.00"
    assert DownloadLink.objects.get().revoked_at is not None
    # The order has Checkout's invoice: the refund is a credit note against it, which
    # refunds the payment in Stripe (orders/services/refunds.py).
    [call] = [r for r in stripe.requests if r["path"] == "/v1/credit_notes"]
    assert call["key"] == f"{order.reference}-credit-note-0"
    assert call["params"]["invoice"] == order.stripe_invoice_id
    assert call["params"]["refund_amount"] == "390000"
    [refund] = stripe.refunds.values()
    assert refund["payment_intent"] == order.stripe_payment_intent_id
    assert order.stripe_refund_id == refund["id"] and order.stripe_credit_note_number
    with pytest.raises(refunds.RefundNotAllowed):
        refunds.order_refund(order=order, actor=admin_user)
    # Stripe's own charge.refunded event follows and changes nothing
    later = [e for e in stripe.events if e["type"] == "charge.refunded"][-1]
    assert webhook_deliver_and_process(client, stripe, later).result == "already refunded"
    assert order.events.filter(kind=OrderEvent.Kind.REFUNDED).count() == 1


def test_staff_refund_after_a_partial_refund_records_the_running_total(
    client, stripe, order, admin_user
):
    webhook_deliver_and_process(
        client, stripe, stripe.session_pay(order.stripe_session_id, deliver=False)
    )
    stripe.refund_session(order.stripe_session_id, amount=50000, deliver=False)
    webhook_deliver_and_process(client, stripe, stripe.events[-1])
    refunds.order_refund(order=order, actor=admin_user)  # Stripe refunds the remaining 3,400
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and str(order.amount_refunded) == "3900.00"


def test_a_second_paid_session_for_a_paid_order_is_flagged_as_a_double_charge(stripe, order):
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    duplicate = dict(session, id="cs_test_other", payment_intent="pi_other")
    assert "second payment" in fulfilment.order_fulfil(order=order, session=duplicate)
    order.refresh_from_db()
    assert order.needs_attention and "cs_test_other" in order.attention_note


def test_reconcile_fulfils_paid_sessions_the_webhook_never_delivered(
    client, stripe, report_on_sale, capsys
):
    paid = order_started(client, report_on_sale, stripe)
    stripe.session_pay(paid.stripe_session_id, deliver=False)
    expired = order_started(client, report_on_sale, stripe, name="John Roe")
    stripe.session_expire(expired.stripe_session_id, deliver=False)
    untouched = order_started(client, report_on_sale, stripe, name="Jo Poe")

    call_command("stripe_reconcile", hours=1)
    out = capsys.readouterr().out
    assert f"{paid.reference}" in out
    assert "3 session(s), 0 refund(s) and 0 dispute(s) checked; 2 order(s) updated" in out
    statuses = dict(Order.objects.values_list("reference", "status"))
    assert statuses == {
        paid.reference: "paid",
        expired.reference: "abandoned",
        untouched.reference: "pending",
    }
    call_command("stripe_reconcile", hours=1)
    assert "0 order(s) updated" in capsys.readouterr().out
    assert receipts().count() == 1


def test_orders_that_never_reached_checkout_are_marked_abandoned(
    client, stripe, report_on_sale, settings
):
    stripe.unreachable = True
    purchase_post(client, report_on_sale)
    settings.ORDER_ABANDONED_AFTER_HOURS = 0
    assert fulfilment.orders_expire_abandoned() == 1
    assert Order.objects.get().status == Order.Status.ABANDONED


def test_report_preparation_waits_for_the_render_then_stamps_and_sends_the_link(stripe, order):
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    job = job_of(fulfilment.DELIVERABLE_JOB, order.pk)  # asked for with the payment
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk).startswith("retry in")
    assert ReportDocument.objects.filter(report=order.report, kind="full", status="queued").exists()

    install_rendered_bases(order.report)
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk) == "done"
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk) == "skipped"
    order.refresh_from_db()
    job.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and job.attempts == 2
    with storages["private"].open(Deliverable.objects.get(order=order).path) as handle:
        pages = PdfReader(io.BytesIO(handle.read())).pages
    stamp = f"Licensed to Acme Pharma — Single user — order {order.reference}"
    assert all(stamp in " ".join((page.extract_text() or "").split()) for page in pages)
    email = OutboundEmail.objects.get(template="orders/email/order_download_link")
    assert email.to == order.buyer_email and not email.attachment_path
    assert f"/download/{order.reference}/" in email.body_text


def test_a_report_stamped_after_its_buyer_was_erased_is_deleted_and_never_sent(stripe, order):
    from common.files import FILES_JOB
    from common.models import PrivateFileDeletion
    from privacy.services import contact_erase

    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    install_rendered_bases(order.report)
    order.refresh_from_db()
    contact_erase(contact=order.contact)
    folder, storage = f"orders/{order.report.number}", storages["private"]
    for name in storage.listdir(folder)[1] if storage.exists(folder) else []:
        storage.delete(f"{folder}/{name}")  # the storage folder outlives test runs
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk) == "done"
    assert storages["private"].listdir(folder)[1]  # stamped, then left for the deletion job
    assert not Deliverable.objects.exists()
    assert not OutboundEmail.objects.filter(template="orders/email/order_download_link").exists()
    for deletion in PrivateFileDeletion.objects.all():
        assert run_job(FILES_JOB, deletion.pk) == "done"
    assert storages["private"].listdir(folder)[1] == []


def test_report_preparation_that_keeps_failing_is_flagged_for_staff(stripe, order, settings):
    settings.DELIVERABLE_MAX_ATTEMPTS = 1
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk) == "failed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.needs_attention
    assert "not rendered yet" in order.deliverable_error
    assert "could not be prepared" in order.attention_note
    assert order.events.filter(kind=OrderEvent.Kind.DELIVERABLE_ERROR).exists()
    # staff start it again with a fresh attempt budget
    fulfilment.order_deliverable_retry(order=order)
    job = job_of(fulfilment.DELIVERABLE_JOB, order.pk)
    assert (job.state, job.attempts) == ("pending", 0)


def test_refund_while_the_report_is_being_prepared_sends_no_link(stripe, order):
    session = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=session)
    install_rendered_bases(order.report)
    refunds.order_refund(order=order)
    assert run_job(fulfilment.DELIVERABLE_JOB, order.pk) == "done"  # nothing left to do
    assert not OutboundEmail.objects.filter(template="orders/email/order_download_link").exists()
    assert not Deliverable.objects.filter(order=order).exists()

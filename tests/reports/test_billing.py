"""Billing a company would accept (issue 22, the Stripe half): Checkout collects the billing
address and the VAT ID, computes tax and makes an invoice; pay by invoice sends a Stripe
invoice payable by bank transfer, which `invoice.paid` fulfils through the same
exactly-once path; overdue, void and paid-out-of-band invoices; refunds by credit note; a
100%-discount order fulfilled. Against the Stripe test server and PostgreSQL; webhook jobs
run here (the journeys with a worker and SMTP are in test_billing_journeys.py)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from contacts.models import OutboundEmail
from orders.models import Order, OrderEvent
from orders.services import fulfilment, invoices, refunds
from tests.reports.orders_support import (
    order_started,
    purchase_post,
    webhook_deliver_and_process,
)

pytestmark = pytest.mark.django_db

VAT = "DE123456789"


def receipts(order) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(dedupe_key=f"receipt:{order.reference}"))


def calls(stripe, prefix, method="POST"):
    return [r for r in stripe.requests if r["method"] == method and r["path"].startswith(prefix)]


def invoice_order(client, report, stripe, **fields) -> Order:
    """Press "Pay by bank transfer" for the multi-user licence (USD 5,900)."""
    response = purchase_post(client, report, licence="multi", pay_by="invoice", **fields)
    assert response.status_code == 303, response.content.decode()[:3000]
    reference = response["Location"].rsplit("/", 1)[-1]
    assert response["Location"] == f"/purchase/invoice/{reference}"
    return Order.objects.get(reference=reference)


# --- Checkout for companies -------------------------------------------------------------------


def test_checkout_collects_billing_address_and_tax_id_and_creates_an_invoice(
    client, stripe, report_on_sale, settings
):
    order_started(client, report_on_sale, stripe)
    [create] = calls(stripe, "/v1/checkout/sessions")
    params = create["params"]
    assert params["billing_address_collection"] == "required"
    assert params["tax_id_collection"] == {"enabled": "true"}
    assert params["customer_creation"] == "always"
    assert params["invoice_creation"]["enabled"] == "true"
    invoice_data = params["invoice_creation"]["invoice_data"]
    assert invoice_data["metadata"]["order_reference"] == Order.objects.get().reference
    assert "automatic_tax" not in params  # STRIPE_AUTOMATIC_TAX is off by default

    settings.STRIPE_AUTOMATIC_TAX = True
    order_started(client, report_on_sale, stripe, name="John Roe")
    assert calls(stripe, "/v1/checkout/sessions")[-1]["params"]["automatic_tax"] == {
        "enabled": "true"
    }


def test_a_vat_id_and_the_tax_stripe_computed_land_on_the_order_receipt_and_admin(
    client, admin_client, stripe, report_on_sale, settings
):
    settings.STRIPE_AUTOMATIC_TAX = True
    order = order_started(client, report_on_sale, stripe)
    event = stripe.session_pay(
        order.stripe_session_id, country="DE", tax_id=("eu_vat", VAT), deliver=False
    )
    assert webhook_deliver_and_process(client, stripe, event).result.startswith("paid")
    order.refresh_from_db()
    assert (order.tax_id_type, order.tax_id_value, order.billing_country) == ("eu_vat", VAT, "DE")
    assert order.amount_tax == Decimal("741.00")  # Stripe Tax: 19 % of USD 3,900
    assert order.amount_paid == Decimal("4641.00")
    assert order.stripe_customer_id.startswith("cus_")
    invoice = stripe.invoices[order.stripe_invoice_id]
    assert order.stripe_invoice_number == invoice["number"]
    assert order.stripe_invoice_url == invoice["hosted_invoice_url"]
    assert order.stripe_invoice_pdf == invoice["invoice_pdf"]
    assert invoice["customer_tax_ids"] == [{"type": "eu_vat", "value": VAT}]

    [receipt] = receipts(order)
    assert f"VAT ID:    {VAT}" in receipt.body_text
    assert "Tax:       USD 741.00" in receipt.body_text
    assert f"Invoice:   {invoice['number']} {invoice['hosted_invoice_url']}" in receipt.body_text
    assert invoice["hosted_invoice_url"] in receipt.body_html

    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert f"{VAT} (eu_vat)" in page
    assert "741.00" in page and invoice["number"] in page
    found = admin_client.get(f"/admin/orders/order/?q={VAT}").content.decode()
    assert order.reference in found


def test_a_card_orders_invoice_events_record_details_and_never_fulfil_twice(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, stripe.session_pay(order.stripe_session_id))
    order.refresh_from_db()
    paid = stripe.invoice_event(order.stripe_invoice_id, "invoice.paid")
    assert webhook_deliver_and_process(client, stripe, paid).result.endswith("paid")
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1
    assert len(receipts(order)) == 1


def test_a_100_percent_discount_checkout_is_fulfilled(client, stripe, report_on_sale):
    """Stripe completes such a session with payment_status "no_payment_required" and no
    PaymentIntent; it used to wait for a payment forever."""
    stripe.promotion_code_add("FREEBIE", percent_off=100)
    order = order_started(client, report_on_sale, stripe, promotion_code="FREEBIE")
    event = stripe.session_pay(order.stripe_session_id, deliver=False)
    assert event["data"]["object"]["payment_status"] == "no_payment_required"
    row = webhook_deliver_and_process(client, stripe, event)
    assert row.result == "paid: receipt queued, report scheduled"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert (order.amount_paid, order.amount_discount) == (Decimal("0.00"), Decimal("3900.00"))
    assert order.payment_method_description == "No payment due (100% discount)"
    assert order.stripe_invoice_number  # Checkout invoices a free order too
    assert len(receipts(order)) == 1
    # The success page (the same service) finds it done.
    client.get(f"/purchase/complete/{order.reference}?session_id={order.stripe_session_id}")
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1


# --- Pay by invoice ---------------------------------------------------------------------------


def test_the_invoice_button_is_offered_from_the_minimum_amount_or_for_every_order(
    client, stripe, report_on_sale, settings
):
    settings.INVOICE_MIN_AMOUNT = Decimal("5000")
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    assert "Pay by bank transfer — we'll send an invoice" in page
    settings.INVOICE_MIN_AMOUNT = Decimal("10000")
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    assert "Pay by bank transfer — we&#x27;ll send an invoice" not in page
    assert "we'll send an invoice" not in page
    settings.INVOICE_ALL_ORDERS = True
    assert "pay-by-invoice" in client.get(f"/purchase/{report_on_sale.number}").content.decode()


def test_pay_by_invoice_below_the_minimum_is_refused_without_asking_stripe(
    client, stripe, report_on_sale
):
    response = purchase_post(client, report_on_sale, licence="single", pay_by="invoice")
    assert response.status_code == 200
    assert "Pay by invoice is offered for orders of USD 5,000 or more" in response.content.decode()
    assert not Order.objects.exists() and not stripe.requests


def test_pay_by_invoice_sends_a_stripe_invoice_payable_by_bank_transfer(
    client, stripe, report_on_sale, settings
):
    settings.INVOICE_DUE_DAYS = 14
    order = invoice_order(client, report_on_sale, stripe, vat_id=VAT)
    paths = [r["path"].split("/in_")[0] for r in stripe.requests]
    assert paths == [
        "/v1/customers",
        "/v1/invoices",
        "/v1/invoiceitems",
        "/v1/invoices",
        "/v1/invoices",
    ]
    [customer] = stripe.customers.values()
    assert customer["name"] == "Acme Pharma" and customer["email"] == order.buyer_email
    assert customer["tax_ids"]["data"][0]["value"] == VAT
    [invoice] = stripe.invoices.values()
    assert invoice["collection_method"] == "send_invoice" and invoice["days_until_due"] == 14
    assert invoice["payment_settings"]["payment_method_types"] == ["customer_balance"]
    assert invoice["status"] == "open" and invoice["_sent"] == 1
    assert invoice["total"] == 590000 and invoice["currency"] == "usd"
    assert invoice["customer_tax_ids"] == [{"type": "eu_vat", "value": VAT}]

    order.refresh_from_db()
    assert order.payment_route == Order.PaymentRoute.INVOICE
    assert order.status == Order.Status.PENDING and order.invoice_status == "open"
    assert order.stripe_invoice_number == invoice["number"] and order.invoice_sent_at
    assert order.invoice_due_at is not None and order.billing_country == "DE"
    page = client.get(f"/purchase/invoice/{order.reference}").content.decode()
    assert "Your invoice is on its way" in page and invoice["number"] in page
    assert invoice["hosted_invoice_url"] in page
    assert order.events.filter(kind=OrderEvent.Kind.INVOICE_SENT).count() == 1
    # Another browser doesn't see the order.
    other = client.__class__()
    assert other.get(f"/purchase/invoice/{order.reference}").status_code == 404


def test_a_stripe_error_mid_invoice_tells_the_buyer_and_the_retry_doubles_nothing(
    client, stripe, report_on_sale
):
    stripe.fail_path("/v1/invoiceitems")
    response = purchase_post(client, report_on_sale, licence="multi", pay_by="invoice")
    assert response.status_code == 200
    page = response.content.decode()
    assert "We could not create your invoice just now" in page and "nothing has been sent" in page
    order = Order.objects.get()
    assert order.invoice_attempts == 1 and order.stripe_invoice_id and not order.invoice_sent_at
    assert order.events.filter(kind=OrderEvent.Kind.INVOICE_ERROR).count() == 1

    again = purchase_post(client, report_on_sale, licence="multi", pay_by="invoice")
    assert again.status_code == 303
    assert Order.objects.count() == 1
    assert len(stripe.customers) == 1 and len(stripe.invoices) == 1
    [invoice] = stripe.invoices.values()
    assert len(invoice["lines"]["data"]) == 1 and invoice["_sent"] == 1
    # A third press (a reload of the POST) goes to the page, creating nothing.
    third = purchase_post(client, report_on_sale, licence="multi", pay_by="invoice")
    assert third["Location"] == f"/purchase/invoice/{order.reference}"
    assert len(calls(stripe, "/v1/invoiceitems")) == 2  # the failed one and the retry


def test_an_invalid_vat_id_for_stripe_is_explained(client, stripe, report_on_sale):
    response = purchase_post(
        client, report_on_sale, licence="multi", pay_by="invoice", vat_id="DE12"
    )
    assert "Stripe did not accept the VAT ID" in response.content.decode()
    assert not stripe.invoices


def test_invoice_paid_by_bank_transfer_fulfils_once_however_often_it_is_told(
    client, stripe, report_on_sale
):
    order = invoice_order(client, report_on_sale, stripe)
    first = stripe.invoice_pay_bank_transfer(order.stripe_invoice_id, deliver=False)
    row = webhook_deliver_and_process(client, stripe, first)
    assert row.result == "invoice paid: receipt queued, report scheduled" and row.order == order
    for _ in range(4):  # the same news in four more events
        again = stripe.invoice_event(order.stripe_invoice_id, "invoice.paid")
        assert (
            webhook_deliver_and_process(client, stripe, again).result
            == "already paid; nothing to do"
        )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.amount_paid == Decimal("5900.00")
    assert order.payment_method_type == "customer_balance"
    assert order.payment_method_description == "Bank transfer"
    assert (
        order.stripe_payment_intent_id
        == stripe.invoices[order.stripe_invoice_id]["_payment_intent"]
    )
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1
    [receipt] = receipts(order)
    assert order.stripe_invoice_url in receipt.body_text


def test_an_overdue_invoice_is_listed_with_its_days_overdue(
    client, admin_client, stripe, report_on_sale
):
    late = invoice_order(client, report_on_sale, stripe)
    on_time = invoice_order(client, report_on_sale, stripe, name="John Roe")
    event = stripe.invoice_overdue(late.stripe_invoice_id, days=3, deliver=False)
    assert webhook_deliver_and_process(client, stripe, event).result == "invoice overdue"
    late.refresh_from_db()
    assert late.invoice_overdue_at is not None
    assert late.events.filter(kind=OrderEvent.Kind.INVOICE_OVERDUE).count() == 1

    page = admin_client.get("/admin/orders/order/invoices/").content.decode()
    assert "2, of which 1 overdue" in page
    assert late.reference in page and on_time.reference in page
    assert "3 days overdue" in page and "not yet due" in page
    assert page.index(late.reference) < page.index(on_time.reference)  # most overdue first
    change = admin_client.get(f"/admin/orders/order/{late.pk}/change/").content.decode()
    assert "Mark invoice paid out of band…" in change and "Void invoice…" in change


def test_staff_mark_an_invoice_paid_out_of_band_with_a_reason_and_it_fulfils_once(
    client, admin_client, stripe, report_on_sale
):
    order = invoice_order(client, report_on_sale, stripe)
    url = f"/admin/orders/order/{order.pk}/invoice-paid/"
    assert "Reason (required" in admin_client.get(url).content.decode()
    refused = admin_client.post(url, {"reason": "  "})
    assert "Give the reason" in refused.content.decode()
    assert not calls(stripe, f"/v1/invoices/{order.stripe_invoice_id}/pay")

    admin_client.post(url, {"reason": "Wire received, Barclays ref 88231"})
    [pay] = calls(stripe, f"/v1/invoices/{order.stripe_invoice_id}/pay")
    assert pay["params"] == {"paid_out_of_band": "true"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.payment_method_type == "out_of_band"
    note = order.events.get(kind=OrderEvent.Kind.NOTE)
    assert "Barclays ref 88231" in note.message and note.actor.username == "admin"
    # Stripe's invoice.paid for the same payment changes nothing.
    later = stripe.invoice_event(order.stripe_invoice_id, "invoice.paid")
    assert (
        webhook_deliver_and_process(client, stripe, later).result == "already paid; nothing to do"
    )
    assert order.events.filter(kind=OrderEvent.Kind.PAID).count() == 1 and len(receipts(order)) == 1
    # A second press finds nothing open.
    again = admin_client.post(url, {"reason": "double click"}, follow=True)
    assert "Not marked paid" in again.content.decode()


def test_settling_invoices_needs_its_own_permission(
    client, stripe, report_on_sale, django_user_model
):
    order = invoice_order(client, report_on_sale, stripe)
    user = django_user_model.objects.create_user("sales", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "change_order"])
    )
    client.force_login(user)
    for action in ("invoice-paid", "invoice-void"):
        assert (
            client.post(f"/admin/orders/order/{order.pk}/{action}/", {"reason": "x"}).status_code
            == 403
        )
    user.user_permissions.add(Permission.objects.get(codename="settle_invoice"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(f"/admin/orders/order/{order.pk}/invoice-void/").status_code == 200


def test_staff_void_an_open_invoice_and_the_order_is_cancelled(
    client, admin_client, stripe, report_on_sale
):
    order = invoice_order(client, report_on_sale, stripe)
    admin_client.post(f"/admin/orders/order/{order.pk}/invoice-void/")
    assert stripe.invoices[order.stripe_invoice_id]["status"] == "void"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.invoice_status == "void"
    assert order.events.get(kind=OrderEvent.Kind.INVOICE_VOIDED).actor.username == "admin"
    voided = stripe.invoice_event(order.stripe_invoice_id, "invoice.voided")
    assert "void not applied" in webhook_deliver_and_process(client, stripe, voided).result
    assert "Open invoices" in admin_client.get("/admin/orders/order/").content.decode()
    assert order.reference not in admin_client.get("/admin/orders/order/invoices/").content.decode()
    with pytest.raises(invoices.InvoiceNotAllowed):
        invoices.invoice_mark_paid_out_of_band(order=order, reason="too late")
    page = client.get(f"/purchase/invoice/{order.reference}").content.decode()
    assert "This invoice was cancelled" in page


# --- Refunds give credit notes ----------------------------------------------------------------


def test_refunding_a_bank_transfer_invoice_issues_a_credit_note_that_refunds_it(
    client, stripe, report_on_sale, admin_user
):
    order = invoice_order(client, report_on_sale, stripe)
    paid = stripe.invoice_pay_bank_transfer(order.stripe_invoice_id, deliver=False)
    webhook_deliver_and_process(client, stripe, paid)
    refunds.order_refund(order=order, actor=admin_user)
    order.refresh_from_db()
    [note] = stripe.credit_notes.values()
    assert note["invoice"] == order.stripe_invoice_id and note["amount"] == 590000
    [refund] = stripe.refunds.values()
    assert note["refunds"] == [{"refund": refund["id"], "amount_refunded": 590000}]
    assert (order.stripe_credit_note_id, order.stripe_credit_note_number) == (
        note["id"],
        note["number"],
    )
    assert order.status == Order.Status.REFUNDED and order.stripe_refund_id == refund["id"]
    assert order.amount_refunded == Decimal("5900.00")
    event = order.events.get(kind=OrderEvent.Kind.CREDIT_NOTE)
    assert note["number"] in event.message and event.actor == admin_user


def test_refunding_an_invoice_paid_out_of_band_credits_it_outside_stripe(
    client, stripe, report_on_sale, admin_user
):
    order = invoice_order(client, report_on_sale, stripe)
    invoices.invoice_mark_paid_out_of_band(order=order, reason="wire", actor=admin_user)
    refunds.order_refund(order=order, actor=admin_user)
    [call] = calls(stripe, "/v1/credit_notes")
    assert (
        call["params"]["out_of_band_amount"] == "590000" and "refund_amount" not in call["params"]
    )
    assert not stripe.refunds
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.stripe_credit_note_number


def test_a_refused_credit_note_changes_nothing_and_the_next_try_uses_a_new_key(
    client, stripe, report_on_sale, admin_user
):
    order = order_started(client, report_on_sale, stripe)
    fulfilment.order_fulfil(
        order=order, session=stripe.session_pay(order.stripe_session_id)["data"]["object"]
    )
    stripe.fail_path("/v1/credit_notes")
    with pytest.raises(Exception, match="Stripe error 500"):
        refunds.order_refund(order=order, actor=admin_user)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refund_attempts == 1
    refunds.order_refund(order=order, actor=admin_user)
    keys = [r["key"] for r in calls(stripe, "/v1/credit_notes")]
    assert keys == [f"{order.reference}-credit-note-0", f"{order.reference}-credit-note-1"]
    assert len(stripe.credit_notes) == 1 and len(stripe.refunds) == 1


def test_a_sent_invoice_is_not_closed_as_an_abandoned_checkout(
    client, stripe, report_on_sale, settings
):
    sent = invoice_order(client, report_on_sale, stripe)
    stripe.fail_path("/v1/customers")
    purchase_post(client, report_on_sale, licence="multi", pay_by="invoice", name="Jo Poe")
    half = Order.objects.exclude(pk=sent.pk).get()  # Stripe failed before anything existed
    settings.ORDER_ABANDONED_AFTER_HOURS = 0
    assert fulfilment.orders_expire_abandoned() == 1
    assert Order.objects.get(pk=half.pk).status == Order.Status.ABANDONED
    assert Order.objects.get(pk=sent.pk).status == Order.Status.PENDING
    # The buyer's own order page sends an invoice order to its invoice page.
    response = client.get(f"/purchase/complete/{sent.reference}")
    assert response["Location"] == f"/purchase/invoice/{sent.reference}"


def test_reconcile_fulfils_an_invoice_paid_while_webhooks_were_not_arriving(
    client, stripe, report_on_sale, capsys
):
    paid = invoice_order(client, report_on_sale, stripe)
    voided = invoice_order(client, report_on_sale, stripe, name="John Roe")
    open_ = invoice_order(client, report_on_sale, stripe, name="Jo Poe")
    stripe.invoice_pay_bank_transfer(paid.stripe_invoice_id, deliver=False)
    stripe.invoice_void(stripe.invoices[voided.stripe_invoice_id])

    call_command("stripe_reconcile", hours=1)
    out = capsys.readouterr().out
    assert "3 sent invoice(s) still open here checked." in out
    statuses = dict(Order.objects.values_list("reference", "status"))
    assert statuses == {
        paid.reference: "paid",
        voided.reference: "cancelled",
        open_.reference: "pending",
    }
    assert Order.objects.get(pk=paid.pk).payment_method_description == "Bank transfer"
    call_command("stripe_reconcile", hours=1)
    assert "1 sent invoice(s) still open here checked." in capsys.readouterr().out
    assert len(receipts(paid)) == 1

"""Billing journeys on the real stack: the live site, the Stripe test server's hosted
payment and invoice pages with its signed webhooks, the Celery worker and SMTP. A company
pays with its VAT ID and gets tax and an invoice; pay by invoice is paid by bank transfer
— also with invoice.paid delivered five times at once — or marked paid out of band by staff
while Stripe reports it, and either way the buyer gets exactly one receipt and one download
email; a 100%-discount order is delivered."""

import re
import threading
import urllib.request
from decimal import Decimal

import pytest
import requests

from contacts.models import OutboundEmail
from orders.models import Deliverable, Order, OrderEvent, StripeEvent
from tests.reports.orders_support import BUYER
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
VAT = "DE123456789"


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def press(browser, live_server, report, **fields):
    """Open the purchase page and press a button with BUYER's details."""
    page = browser.get(f"{live_server.url}/purchase/{report.number}")
    form = {
        "csrfmiddlewaretoken": hidden(page.text, "csrfmiddlewaretoken"),
        "form_started": hidden(page.text, "form_started"),
        **BUYER,
        **fields,
    }
    return browser.post(page.url, data=form, headers={"Referer": page.url})


def settled(order, mailbox, celery_worker) -> list:
    """Wait until the order is fulfilled and every email sent; the buyer's messages."""
    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED,
        timeout=90,
        message=f"order not fulfilled; worker log:\n{celery_worker.tail()}",
    )
    mailbox.wait_for(2, to=order.buyer_email, timeout=60)
    wait_until(lambda: not StripeEvent.objects.filter(status=StripeEvent.Status.PENDING).exists())
    wait_until(lambda: not OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT).exists())
    return sorted(mailbox.to(order.buyer_email), key=lambda m: str(m["Subject"]))


def assert_delivered_once(order, messages):
    subjects = [str(m["Subject"]) for m in messages]
    assert len(subjects) == 2, subjects
    assert subjects[0].startswith(f"Receipt for order {order.reference}")
    assert subjects[1].startswith("Your report is ready")
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.PAID).count() == 1
    assert Deliverable.objects.filter(order=order).count() == 1
    assert order.download_links.count() == 1


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def post_all_at_once(url, requests_):
    """POST each (body, headers) from its own thread, all released together."""
    statuses, start = [], threading.Barrier(len(requests_))

    def post(body, headers):
        start.wait()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            statuses.append(response.status)

    threads = [threading.Thread(target=post, args=pair) for pair in requests_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_a_company_pays_with_its_vat_id_and_gets_tax_and_the_invoice_in_its_receipt(
    celery_worker, mailbox, live_server, stripe, settings, report_on_sale, admin_client
):
    settings.SITE_URL = live_server.url
    settings.STRIPE_AUTOMATIC_TAX = True
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    install_rendered_bases(report_on_sale)
    browser = requests.Session()
    checkout = press(browser, live_server, report_on_sale, licence="single")
    assert 'id="tax-id"' in checkout.text and 'id="country"' in checkout.text
    browser.post(checkout.url, data={"outcome": "card", "country": "DE", "tax_id": VAT})
    order = Order.objects.get()
    receipt, ready = settled(order, mailbox, celery_worker)
    assert_delivered_once(order, [receipt, ready])

    order.refresh_from_db()
    assert (order.tax_id_value, order.amount_tax) == (VAT, Decimal("741.00"))
    invoice = stripe.invoices[order.stripe_invoice_id]
    body = text_of(receipt)
    assert f"VAT ID:    {VAT}" in body and "Tax:       USD 741.00" in body
    assert "Paid:      USD 4,641.00" in body
    assert f"Invoice:   {invoice['number']} {invoice['hosted_invoice_url']}" in body
    assert browser.get(invoice["hosted_invoice_url"]).status_code == 200
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert f"{VAT} (eu_vat)" in page and "741.00" in page and invoice["number"] in page


def test_pay_by_invoice_paid_by_bank_transfer_with_invoice_paid_five_times_at_once(
    celery_worker, mailbox, live_server, stripe, settings, report_on_sale
):
    settings.SITE_URL = live_server.url
    install_rendered_bases(report_on_sale)
    browser = requests.Session()
    sent = press(browser, live_server, report_on_sale, licence="multi", pay_by="invoice")
    order = Order.objects.get()
    assert sent.url == f"{live_server.url}/purchase/invoice/{order.reference}"
    assert "Your invoice is on its way" in sent.text and order.stripe_invoice_number in sent.text

    # The buyer opens the hosted invoice and sends the transfer; Stripe matches it and
    # reports invoice.paid — here five events at once, one of them also delivered twice.
    hosted = browser.get(order.stripe_invoice_url)
    assert "Pay by bank transfer" in hosted.text
    browser.post(order.stripe_invoice_url)
    assert stripe.invoices[order.stripe_invoice_id]["status"] == "paid"
    first = [e for e in stripe.events if e["type"] == "invoice.paid"][-1]
    events = [first] + [
        stripe.invoice_event(order.stripe_invoice_id, "invoice.paid") for _ in range(4)
    ]
    bodies = [stripe.signed_request(event) for event in [*events, first]]
    statuses = post_all_at_once(f"{live_server.url}/stripe/webhook/", bodies)
    assert statuses == [200] * 6

    messages = settled(order, mailbox, celery_worker)
    assert_delivered_once(order, messages)
    assert StripeEvent.objects.filter(type="invoice.paid").count() == 5
    results = sorted(
        StripeEvent.objects.filter(type="invoice.paid").values_list("result", flat=True)
    )
    assert results.count("already paid; nothing to do") == 4
    order.refresh_from_db()
    assert order.payment_method_description == "Bank transfer"
    assert order.stripe_invoice_url in text_of(messages[0])
    done = browser.get(sent.url)
    assert "Payment received" in done.text and "Download your report (PDF)" in done.text


def test_an_invoice_marked_paid_out_of_band_while_stripe_reports_it_is_delivered_once(
    celery_worker, mailbox, live_server, stripe, settings, report_on_sale, admin_client
):
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"  # Stripe's own invoice.paid
    install_rendered_bases(report_on_sale)
    press(requests.Session(), live_server, report_on_sale, licence="enterprise", pay_by="invoice")
    order = Order.objects.get()
    extra = [stripe.invoice_event(order.stripe_invoice_id, "invoice.paid") for _ in range(4)]

    results: list = []
    staff = threading.Thread(
        target=lambda: results.append(
            admin_client.post(
                f"/admin/orders/order/{order.pk}/invoice-paid/",
                {"reason": "Wire to our Barclays account, ref 88231"},
            ).status_code
        )
    )
    staff.start()
    # Four stale invoice.paid (built while the invoice was open) arrive meanwhile.
    post_all_at_once(
        f"{live_server.url}/stripe/webhook/", [stripe.signed_request(e) for e in extra]
    )
    staff.join(timeout=60)
    assert results == [302]

    messages = settled(order, mailbox, celery_worker)
    assert_delivered_once(order, messages)
    order.refresh_from_db()
    assert order.payment_method_type == "out_of_band"
    assert stripe.invoices[order.stripe_invoice_id]["status"] == "paid"
    wait_until(lambda: StripeEvent.objects.filter(type="invoice.paid").count() == 5)
    wait_until(lambda: not StripeEvent.objects.filter(status=StripeEvent.Status.PENDING).exists())
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.PAID).count() == 1


def test_a_100_percent_discount_order_is_delivered(
    celery_worker, mailbox, live_server, stripe, settings, report_on_sale
):
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    stripe.promotion_code_add("PRESS100", percent_off=100)
    install_rendered_bases(report_on_sale)
    browser = requests.Session()
    checkout = press(
        browser, live_server, report_on_sale, licence="single", promotion_code="PRESS100"
    )
    assert "USD 0.00" in checkout.text
    browser.post(checkout.url, data={"outcome": "card"})
    order = Order.objects.get()
    messages = settled(order, mailbox, celery_worker)
    assert_delivered_once(order, messages)
    assert "Paid:      USD 0.00" in text_of(messages[0])
    assert Order.objects.get().stripe_payment_status == "no_payment_required"

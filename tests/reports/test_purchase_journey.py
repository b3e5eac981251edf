"""The whole purchase, as a buyer does it, against real parts: the live site, the Stripe
test server's hosted payment page and its signed webhook, the Celery worker rendering and
stamping the report, SMTP, and the download of the stamped PDF."""

import io
import re

import pytest
import requests
from pypdf import PdfReader

from contacts.models import OutboundEmail
from orders.models import Order
from reports.services.seed import report_load_seed
from tests.reports.orders_support import BUYER, link_in
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def test_buyer_pays_on_checkout_and_downloads_the_stamped_report(
    celery_worker, mailbox, live_server, stripe, settings
):
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    report = report_load_seed().report  # nothing rendered: the purchase asks for it
    browser = requests.Session()

    page = browser.get(
        f"{live_server.url}/purchase/{report.number}?licence=enterprise&utm_campaign=cro-q4"
    )
    assert "USD 7,900" in page.text
    form = {
        "csrfmiddlewaretoken": hidden(page.text, "csrfmiddlewaretoken"),
        "form_started": hidden(page.text, "form_started"),
        "licence": "enterprise",
        **BUYER,
        "company": "Acme Pharma GmbH",
    }
    checkout = browser.post(page.url, data=form, headers={"Referer": page.url})
    assert checkout.url.startswith(f"{stripe.base_url}/pay/cs_test_")
    assert "USD 7,900.00" in checkout.text

    back = browser.post(checkout.url, data={"outcome": "card"})  # Pay; the webhook goes first
    order = Order.objects.get()
    assert back.url.startswith(f"{live_server.url}/purchase/complete/{order.reference}")
    assert "Payment received" in back.text or "Your report is ready" in back.text
    assert order.utm_campaign == "cro-q4"

    receipt, ready = sorted(
        mailbox.wait_for(2, to=BUYER["email"], timeout=120), key=lambda m: str(m["Subject"])
    )
    assert f"Receipt for order {order.reference}" in str(receipt["Subject"])
    receipt_text = receipt.get_body(preferencelist=("plain",)).get_content()
    assert "Paid:      USD 7,900.00" in receipt_text and "Enterprise" in receipt_text
    assert "Payment:   Card payment (Visa ending 4242), processed by Stripe" in receipt_text
    assert not any(part.get_filename() for part in ready.walk())  # a link, never attached

    link = link_in(ready).replace("http://127.0.0.1:8000", live_server.url)
    landing = browser.get(link)
    assert "Download the PDF" in landing.text
    pdf = browser.post(
        link,
        data={"csrfmiddlewaretoken": hidden(landing.text, "csrfmiddlewaretoken")},
        headers={"Referer": link},
    )
    assert pdf.headers["Content-Type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    stamp = f"Licensed to Acme Pharma GmbH — Enterprise — order {order.reference}"
    assert len(pages) > 10
    assert all(stamp in " ".join((p.extract_text() or "").split()) for p in pages)

    done = browser.get(back.url)
    assert "Your report is ready" in done.text and "Download your report (PDF)" in done.text
    wait_until(lambda: OutboundEmail.objects.filter(status="sent").count() == 2)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.downloads.count() == 1

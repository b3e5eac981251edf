"""A buyer in a real browser: chooses a licence, pays on the Stripe test server's hosted
page, watches the success page refresh itself (no JavaScript needed) until the report is
ready, and downloads the PDF stamped with their company."""

import io
import re

import pytest
from pypdf import PdfReader

from orders.models import Order
from reports.services.seed import report_load_seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stripe(stripe_server, settings, live_server):
    fake = stripe_server.fake
    fake.reset()
    fake.webhook_url = f"{live_server.url}/stripe/webhook/"
    settings.SITE_URL = live_server.url
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.FORM_MIN_FILL_SECONDS = 0
    settings.PURCHASE_STATUS_REFRESH_SECONDS = 1
    return fake


def test_buyer_pays_and_downloads_the_licensed_report_in_chromium(
    celery_worker, mailbox, live_server, stripe, buyer_page, tmp_path
):
    report = report_load_seed().report
    page = buyer_page
    page.goto(f"{live_server.url}/purchase/{report.number}?licence=multi")
    assert page.is_checked("#licence-multi")
    page.fill("#id_email", "jane.doe@acme-pharma.example")
    page.fill("#id_name", "Jane Doe")
    page.fill("#id_company", "Acme Pharma")
    page.fill("#id_vat_id", "DE123456789")
    page.check("#id_terms")
    page.click("text=Pay securely with Stripe")

    page.wait_for_url(re.compile(re.escape(stripe.base_url) + r"/pay/cs_test_\w+"))
    assert page.inner_text("#amount") == "USD 5,900.00"
    page.click("#pay")

    order = Order.objects.get()
    page.wait_for_url(f"{live_server.url}/purchase/complete/{order.reference}*")
    page.get_by_text("Your report is ready").wait_for(timeout=120_000)  # meta refresh
    assert page.inner_text("#payment-method") == "Card payment (Visa ending 4242)"
    page.screenshot(path=str(tmp_path / "ready.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("text=Download your report (PDF)")
    pdf = download_info.value
    assert pdf.suggested_filename == f"{order.reference}-{report.slug}.pdf"
    content = pdf.path().read_bytes()
    stamp = f"Licensed to Acme Pharma — Multi-user — order {order.reference}"
    pages = PdfReader(io.BytesIO(content)).pages
    assert all(stamp in " ".join((p.extract_text() or "").split()) for p in pages)
    subjects = [str(m["Subject"]) for m in mailbox.wait_for(2, to="jane.doe@acme-pharma.example")]
    assert any(s.startswith(f"Receipt for order {order.reference}") for s in subjects)

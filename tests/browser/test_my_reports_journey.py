"""A buyer's account in a real browser on the real stack: buys a Multi-user licence on the
Stripe test server, asks for a sign-in link, opens it from the SMTP server's mailbox, finds
the order on My reports, names two colleagues (each receives a link to a copy stamped with
their own name on every page), then gives one seat to someone else: the old link is refused.
Staff then publish a new edition: the buyer and both current seat holders receive it once,
each copy stamped for its reader; the released seat's old holder gets nothing."""

import io
import re
from datetime import timedelta

import pytest
from django.db import transaction
from pypdf import PdfReader

from common.models import Job
from orders.models import EditionNotice, Order
from reports.services.editions import report_edition_publish
from reports.services.seed import report_load_seed
from tests.reports.orders_support import path_of
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@acme-pharma.example"


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


def link_in_mail(mailbox, to: str, pattern: str, *, count: int = 1) -> str:
    message = mailbox.wait_for(count, to=to, timeout=120)[-1]
    body = message.get_body(preferencelist=("plain",)).get_content()
    return path_of(re.search(pattern, body).group(0))


def pdf_pages(page, url: str) -> list[str]:
    page.goto(url)
    with page.expect_download() as download_info:
        page.click("text=Download the PDF")
    content = download_info.value.path().read_bytes()
    reader = PdfReader(io.BytesIO(content))
    return [" ".join((p.extract_text() or "").split()) for p in reader.pages]


def buy_multi_user_licence(page, live_server, stripe, report) -> Order:
    page.goto(f"{live_server.url}/purchase/{report.number}?licence=multi")
    page.fill("#id_email", BUYER)
    page.fill("#id_name", "Jane Doe")
    page.fill("#id_company", "Acme Pharma")
    page.check("#id_terms")
    page.click("text=Pay securely with Stripe")
    page.wait_for_url(re.compile(re.escape(stripe.base_url) + r"/pay/cs_test_\w+"))
    page.click("#pay")
    order = Order.objects.get()
    page.wait_for_url(f"{live_server.url}/purchase/complete/{order.reference}*")
    page.get_by_text("Your report is ready").wait_for(timeout=120_000)
    return order


def test_buyer_signs_in_names_seats_and_reassigns_one_in_chromium(
    celery_worker, mailbox, live_server, stripe, buyer_page, chromium_browser
):
    report = report_load_seed().report
    install_rendered_bases(report, kinds=("full",))
    page = buyer_page
    order = buy_multi_user_licence(page, live_server, stripe, report)
    mailbox.wait_for(2, to=BUYER)  # the receipt and the download link

    # A fresh browser (no session from the purchase): "My reports" asks for an email.
    context = chromium_browser.new_context(accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.goto(live_server.url)
    tab.click("text=My reports")
    tab.fill("#id_email", BUYER)
    tab.click("text=Email me a sign-in link")
    tab.get_by_text("Check your email").wait_for()
    sign_in = link_in_mail(mailbox, BUYER, r"https?://\S+/account/sign-in/confirm\?\S+", count=3)
    tab.goto(live_server.url + sign_in)
    tab.click("button:text('Sign in')")
    tab.wait_for_url(f"{live_server.url}/account/reports")
    card = tab.locator(f"#order-{order.reference}")
    assert report.title in card.inner_text()
    assert "Multi-user" in card.locator(".order-licence").inner_text()
    assert card.locator(".order-status").inner_text() == "Paid"
    assert card.locator(".order-amount").inner_text() == "USD 5,900.00"

    colleagues = [("Ann Lee", "ann@acme-pharma.example"), ("Bo Chen", "bo@acme-pharma.example")]
    for name, email in colleagues:
        tab.fill(f"#seat-name-{order.reference}", name)
        tab.fill(f"#seat-email-{order.reference}", email)
        tab.click("text=Add seat")
        tab.get_by_text(f"is {name}'s").wait_for()
    links = {}
    for number, (name, email) in enumerate(colleagues, start=2):
        links[email] = live_server.url + link_in_mail(mailbox, email, r"https?://\S+/download/\S+")
        pages = pdf_pages(tab, links[email])
        stamp = f"Licensed to {name}, Acme Pharma — seat {number} of 5"
        assert len(pages) > 1 and all(stamp in text for text in pages), pages[0][:300]

    tab.goto(f"{live_server.url}/account/reports")
    seat = tab.locator(f"#seat-{order.reference}-2")
    seat.locator("summary").click()
    seat.locator("input[name=name]").fill("Cy Diaz")
    seat.locator("input[name=email]").fill("cy@acme-pharma.example")
    seat.locator("text=Reassign").click()
    tab.get_by_text("Seat 2 is now Cy Diaz's").wait_for()

    response = tab.goto(links["ann@acme-pharma.example"])
    assert response.status == 410
    assert "This seat was given to someone else" in tab.inner_text("main")
    cy = live_server.url + link_in_mail(
        mailbox, "cy@acme-pharma.example", r"https?://\S+/download/\S+"
    )
    pages = pdf_pages(tab, cy)
    assert all("Licensed to Cy Diaz, Acme Pharma — seat 2 of 5" in text for text in pages)
    assert len(pdf_pages(tab, links["bo@acme-pharma.example"])) == len(pages)  # Bo's still works

    # Staff publish a new edition (the admin's service), its base rendered with it.
    with transaction.atomic():
        report_edition_publish(
            report=report,
            edition_date=report.edition_date + timedelta(days=180),
            upgrade_discount_percent=30,
        )
        install_rendered_bases(report, kinds=("full",))
    edition_link = r"https?://\S+/download/\S+"
    buyer_pages = pdf_pages(
        tab, live_server.url + link_in_mail(mailbox, BUYER, edition_link, count=4)
    )
    assert all(
        f"Licensed to Acme Pharma — Multi-user — order {order.reference}" in t for t in buyer_pages
    )
    for name, email, number in (
        ("Cy Diaz", "cy@acme-pharma.example", 2),
        ("Bo Chen", "bo@acme-pharma.example", 3),
    ):
        pages = pdf_pages(
            tab, live_server.url + link_in_mail(mailbox, email, edition_link, count=2)
        )
        assert all(f"Licensed to {name}, Acme Pharma — seat {number} of 5" in t for t in pages)
    wait_until(lambda: not Job.objects.filter(state__in=Job.ACTIVE).exists(), timeout=60)
    assert EditionNotice.objects.filter(sent_at__isnull=False).count() == 3
    assert len(mailbox.to(BUYER)) == 4
    assert len(mailbox.to("cy@acme-pharma.example")) == 2
    assert len(mailbox.to("bo@acme-pharma.example")) == 2
    assert len(mailbox.to("ann@acme-pharma.example")) == 1
    context.close()

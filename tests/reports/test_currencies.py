"""Prices in USD, EUR and GBP: the visitor's choice (a plain link, remembered in a cookie only
once made), the page cache's one version per currency, checkout in the chosen currency on
the Stripe test server, the receipt and the mail log in the order's currency, and the
sales summary and its CSV export grouped by currency."""

import csv
import io
import re
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from contacts.models import OutboundEmail
from orders.models import Order
from orders.services import fulfilment
from reports.models import Licence
from reports.services.seed import report_load_seed
from tests.factories import LicenceFactory, ReportFactory
from tests.reports.conftest import SEED_URL
from tests.reports.orders_support import BUYER, link_in, order_started, purchase_post
from tests.support.waiting import wait_until

# The seed report's enterprise licence (reports/seed/report_1780960.json).
ENTERPRISE = {"USD": "7,900", "EUR": "7,300", "GBP": "6,200"}


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def anonymous_get(url: str, *, currency: str = ""):
    """A new visitor (with the currency cookie when given); the answer and its query count."""
    visitor = Client()
    if currency:
        visitor.cookies["currency"] = currency
    with CaptureQueriesContext(connection) as queries:
        response = visitor.get(url)
    return response, len(queries)


@pytest.mark.django_db(transaction=True)
def test_eur_order_end_to_end_from_report_page_to_download(
    celery_worker, mailbox, live_server, stripe, settings
):
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    report = report_load_seed().report
    browser = requests.Session()

    first = browser.get(live_server.url + SEED_URL)
    assert f"USD {ENTERPRISE['USD']}" in first.text and not browser.cookies
    chosen = browser.get(f"{live_server.url}{SEED_URL}?currency=EUR")  # the EUR link
    assert chosen.url == live_server.url + SEED_URL  # back on the page, without the parameter
    assert browser.cookies["currency"] == "EUR"
    assert f"EUR {ENTERPRISE['EUR']}" in chosen.text and "USD 7,900" not in chosen.text

    page = browser.get(f"{live_server.url}/purchase/{report.number}?licence=enterprise")
    assert f"EUR {ENTERPRISE['EUR']}" in page.text and hidden(page.text, "currency") == "EUR"
    form = {
        "csrfmiddlewaretoken": hidden(page.text, "csrfmiddlewaretoken"),
        "form_started": hidden(page.text, "form_started"),
        "currency": "EUR",
        "licence": "enterprise",
        **BUYER,
        "company": "Acme Pharma GmbH",
    }
    checkout = browser.post(page.url, data=form, headers={"Referer": page.url})
    assert checkout.url.startswith(f"{stripe.base_url}/pay/cs_test_")
    assert "EUR 7,300.00" in checkout.text
    session = stripe.sessions[checkout.url.rsplit("/", 1)[-1]]
    assert (session["currency"], session["amount_total"]) == ("eur", 730000)

    back = browser.post(checkout.url, data={"outcome": "card"})  # the webhook goes first
    order = Order.objects.get()
    assert back.url.startswith(f"{live_server.url}/purchase/complete/{order.reference}")
    assert (order.currency, order.price) == ("EUR", Decimal("7300.00"))

    receipt, ready = sorted(
        mailbox.wait_for(2, to=BUYER["email"], timeout=120), key=lambda m: str(m["Subject"])
    )
    receipt_text = receipt.get_body(preferencelist=("plain",)).get_content()
    assert "Paid:      EUR 7,300.00" in receipt_text and "USD" not in receipt_text
    logged = OutboundEmail.objects.get(subject__contains=f"Receipt for order {order.reference}")
    assert "EUR 7,300.00" in logged.body_text  # the mail log keeps the email as sent

    link = link_in(ready).replace("http://127.0.0.1:8000", live_server.url)
    landing = browser.get(link)
    pdf = browser.post(
        link,
        data={"csrfmiddlewaretoken": hidden(landing.text, "csrfmiddlewaretoken")},
        headers={"Referer": link},
    )
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) > 10
    wait_until(lambda: Order.objects.get().status == Order.Status.FULFILLED)
    order.refresh_from_db()
    assert (order.amount_paid, order.currency, order.amount_mismatch) == (
        Decimal("7300.00"),
        "EUR",
        False,
    )


@pytest.mark.django_db
def test_visitor_who_has_not_chosen_is_written_nothing_and_each_currency_is_cached_apart(
    seed_report,
):
    usd, _ = anonymous_get(SEED_URL)
    assert usd.status_code == 200 and not usd.cookies  # no currency, session or CSRF cookie
    assert f"USD {ENTERPRISE['USD']}" in usd.content.decode()
    assert "Cookie" in usd["Vary"]  # for any cache between us and the visitor
    again, queries = anonymous_get(SEED_URL)
    assert queries == 0 and not again.cookies  # from the page cache
    assert again.content == usd.content

    for currency in ("EUR", "GBP"):
        first, _ = anonymous_get(SEED_URL, currency=currency)
        html = first.content.decode()
        assert f"{currency} {ENTERPRISE[currency]}" in html and "USD 7,900" not in html
        assert not first.cookies  # a choice already made is not written again
        cached, queries = anonymous_get(SEED_URL, currency=currency)
        assert queries == 0 and cached.content == first.content
    plain, queries = anonymous_get(SEED_URL)
    assert queries == 0 and plain.content == usd.content  # still the USD version


@pytest.mark.django_db
def test_a_currency_link_remembers_the_choice_and_keeps_the_other_parameters(
    client, stripe, seed_report
):
    response = client.get(f"{SEED_URL}?currency=gbp")
    assert response.status_code == 302 and response["Location"] == SEED_URL
    assert response.cookies["currency"].value == "GBP"
    assert "sessionid" not in response.cookies  # a cookie of its own, no session
    page = client.get(SEED_URL).content.decode()
    assert f"GBP {ENTERPRISE['GBP']}" in page
    assert '<a href="?currency=EUR" rel="nofollow">EUR</a>' in page

    purchase = f"/purchase/{seed_report.number}"
    moved = client.get(f"{purchase}?licence=multi&currency=EUR")
    assert moved.status_code == 302 and moved["Location"] == f"{purchase}?licence=multi"
    assert "EUR 5,400" in client.get(f"{purchase}?licence=multi").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url", [SEED_URL, "/purchase/1780960"])
def test_a_currency_we_dont_sell_in_is_refused_and_changes_nothing(
    client, stripe, seed_report, url
):
    client.cookies["currency"] = "EUR"
    response = client.get(f"{url}?currency=XYZ")
    assert response.status_code == 400
    assert "We don't sell in XYZ" in response.content.decode()
    assert not response.cookies  # the EUR choice stands
    assert "EUR 7,300" in client.get(url).content.decode()

    client.cookies["currency"] = "XYZ"  # a cookie we never wrote: the default currency
    page = client.get(url)
    assert page.status_code == 200 and "USD 7,900" in page.content.decode()


@pytest.mark.django_db
def test_pay_with_a_made_up_currency_creates_no_order(client, stripe, seed_report):
    response = purchase_post(client, seed_report, currency="XYZ")
    assert response.status_code == 200
    assert "Choose a currency we sell in" in response.content.decode()
    assert not Order.objects.exists() and not stripe.sessions


@pytest.fixture
def priced_report(db):
    report = ReportFactory()
    LicenceFactory(
        report=report,
        kind=Licence.Kind.SINGLE,
        price=Decimal("3900"),
        price_eur=Decimal("3550"),
        price_gbp=Decimal("2990"),
    )
    return report


@pytest.mark.django_db
def test_checkout_runs_in_the_page_currency_even_if_the_choice_changed_since(
    client, stripe, priced_report
):
    client.cookies["currency"] = "GBP"  # another tab switched to GBP after the page showed EUR
    order = order_started(client, priced_report, stripe, currency="EUR")
    session = stripe.sessions[order.stripe_session_id]
    assert (order.currency, order.price) == ("EUR", Decimal("3550.00"))
    assert (session["currency"], session["amount_total"]) == ("eur", 355000)
    paid = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=order, session=paid)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.amount_paid == Decimal("3550.00")


@pytest.mark.django_db
def test_promotion_codes_discount_in_the_order_currency(client, stripe, priced_report):
    stripe.promotion_code_add("TENPC", percent_off=10)
    stripe.promotion_code_add(
        "LESS500", amount_off=50000, currency="usd", currency_options={"eur": {"amount_off": 45000}}
    )
    stripe.promotion_code_add("USDONLY", amount_off=50000, currency="usd")

    refused = purchase_post(client, priced_report, currency="GBP", promotion_code="USDONLY")
    assert "not valid for payments in GBP" in refused.content.decode()
    assert not Order.objects.exists()

    percent = order_started(client, priced_report, stripe, currency="GBP", promotion_code="TENPC")
    assert stripe.sessions[percent.stripe_session_id]["amount_total"] == 269100  # GBP 2,691
    fixed = order_started(Client(), priced_report, stripe, currency="EUR", promotion_code="LESS500")
    session = stripe.sessions[fixed.stripe_session_id]
    assert (session["currency"], session["amount_total"]) == ("eur", 355000 - 45000)
    paid = stripe.session_pay(fixed.stripe_session_id, deliver=False)["data"]["object"]
    fulfilment.order_fulfil(order=fixed, session=paid)
    fixed.refresh_from_db()
    assert (fixed.amount_paid, fixed.amount_discount) == (Decimal("3100.00"), Decimal("450.00"))


@pytest.mark.django_db
def test_sales_summary_and_csv_keep_each_currency_apart(admin_client, stripe, priced_report):
    for currency, buyer in (("USD", "a"), ("EUR", "b"), ("EUR", "c"), ("GBP", "d")):
        visitor = Client()
        order = order_started(
            visitor, priced_report, stripe, currency=currency, email=f"{buyer}@example.com"
        )
        paid = stripe.session_pay(order.stripe_session_id, deliver=False)["data"]["object"]
        fulfilment.order_fulfil(order=order, session=paid)

    page = admin_client.get("/admin/orders/order/sales/?days=7").content.decode()
    assert "<td>USD</td><td>1</td><td>3,900.00</td>" in page
    assert "<td>EUR</td><td>2</td><td>7,100.00</td>" in page
    assert "<td>GBP</td><td>1</td><td>2,990.00</td>" in page
    assert "13,990" not in page and "13990" not in page  # nothing added across currencies

    export = admin_client.get("/admin/orders/order/sales/csv/?days=7")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    totals = {
        row["currency"]: (row["orders"], row["amount"]) for row in rows if row["group"] == "total"
    }
    assert totals == {"USD": ("1", "3900.00"), "EUR": ("2", "7100.00"), "GBP": ("1", "2990.00")}
    by_report = [row for row in rows if row["group"] == "by_report"]
    assert sorted(row["currency"] for row in by_report) == ["EUR", "GBP", "USD"]
    assert {row["report number"] for row in by_report} == {str(priced_report.number)}


@pytest.mark.django_db
def test_sales_csv_needs_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/orders/order/sales/csv/").status_code == 403

"""Where a licence's USD, EUR and GBP prices come from: admin (a blank EUR or GBP price is
filled from the USD one at CURRENCY_FALLBACK_RATES, rounded to a whole ten), the import
format (explicit prices kept, missing ones derived the same way, an old non-USD `currency`
refused), the demo catalogue, the sample PDF and a quote sent in EUR."""

import copy
from decimal import Decimal

import pytest
from django.urls import reverse

from common.currency import price_fallback
from orders.models import Order
from reports.models import Licence, Report
from reports.pdf.content import report_content
from reports.services.demo import demo_lines
from reports.services.imports import Record, reports_import
from reports.services.imports.schema import LineInvalid, parse_line
from tests.factories import CategoryFactory
from tests.reports.orders_support import order_started, quote_for
from tests.reports.test_admin import licence_inline, report_form
from tests.reports.test_import import line

pytestmark = pytest.mark.django_db


def licences_of(data: dict) -> dict[str, tuple]:
    state = parse_line(data)
    return {row.kind: (row.price, row.price_eur, row.price_gbp) for row in state.licences}


def test_fallback_converts_at_the_configured_rate_and_rounds_to_a_whole_ten(settings):
    settings.CURRENCY_FALLBACK_RATES = {"EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
    assert price_fallback(usd=Decimal("3900"), currency="EUR") == Decimal("3590")
    assert price_fallback(usd=Decimal("3900"), currency="GBP") == Decimal("3080")
    assert price_fallback(usd=Decimal("3900"), currency="USD") == Decimal("3900")
    settings.CURRENCY_FALLBACK_RATES = {"EUR": Decimal("1.10"), "GBP": Decimal("0.5")}
    assert price_fallback(usd=Decimal("4"), currency="GBP") == Decimal("10")  # never zero
    assert price_fallback(usd=Decimal("1000"), currency="EUR") == Decimal("1100")


def test_import_keeps_explicit_prices_and_derives_missing_ones():
    data = copy.deepcopy(line(2100001))
    assert licences_of(data)["single"] == (Decimal("3900"), Decimal("3600"), Decimal("3100"))
    for licence in data["licences"]:
        del licence["price_eur"], licence["price_gbp"]
    data["licences"][0]["currency"] = "USD"  # a line written before prices per currency
    assert licences_of(data)["single"] == (Decimal("3900"), Decimal("3590"), Decimal("3080"))


def test_import_refuses_an_old_price_in_another_currency():
    data = copy.deepcopy(line(2100002))
    data["licences"][1]["currency"] = "EUR"
    with pytest.raises(LineInvalid) as caught:
        parse_line(data)
    assert caught.value.errors == [
        ("licences[1].currency", "give the price per currency: price (USD), price_eur, price_gbp")
    ]


def test_an_imported_line_stores_all_three_prices():
    data = copy.deepcopy(line(2100003))
    data["licences"][2]["price_gbp"] = "6150.00"
    result = reports_import(records=[Record(data=data, line=1)])
    assert not result.failed, result
    enterprise = Licence.objects.get(report__number=2100003, kind="enterprise")
    assert (enterprise.price, enterprise.price_eur, enterprise.price_gbp) == (7900, 7300, 6150)


def test_demo_catalogue_prices_every_licence_in_every_currency():
    for data in demo_lines(count=3, seed=1):
        for licence in data["licences"]:
            usd = Decimal(licence["price"])
            eur, gbp = Decimal(licence["price_eur"]), Decimal(licence["price_gbp"])
            assert 0 < gbp < eur < usd and eur % 100 == 0 and gbp % 100 == 0


def test_admin_fills_a_blank_eur_or_gbp_price_and_keeps_a_typed_one(admin_client):
    category = CategoryFactory()
    data = report_form(category) | licence_inline(price="4900.00")
    data |= {"licences-0-price_eur": "4450.00", "licences-0-price_gbp": ""}
    response = admin_client.post(reverse("admin:reports_report_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    licence = Licence.objects.get(report__number=3000001)
    assert (licence.price, licence.price_eur, licence.price_gbp) == (4900, 4450, 3870)
    page = admin_client.get(reverse("admin:reports_report_change", args=[licence.report_id]))
    html = page.content.decode()
    assert 'name="licences-0-price_eur"' in html and 'value="3870.00"' in html


def test_the_sample_pdf_lists_the_prices_in_every_currency(seed_report):
    content = report_content(report=Report.objects.get(pk=seed_report.pk))
    prices = content["licences"][0]["prices"]
    assert prices == [
        {"currency": "USD", "price": "3900.00"},
        {"currency": "EUR", "price": "3600.00"},
        {"currency": "GBP", "price": "3100.00"},
    ]


def test_a_quote_in_eur_is_paid_in_eur_whatever_the_visitor_chose(client, stripe, seed_report):
    token = quote_for(seed_report, price="6800.00", currency="EUR")
    client.cookies["currency"] = "GBP"
    page = client.get(f"/purchase/{seed_report.number}?quote={token}").content.decode()
    assert "EUR 6,800" in page and "EUR 7,300" in page  # the quote, and the list price struck
    assert 'id="currency-choice"' not in page  # a quote's currency is fixed
    order = order_started(
        client,
        seed_report,
        stripe,
        query=f"?quote={token}",
        quote=token,
        licence="enterprise",
        email="cfo@acme-pharma.example",
        currency="GBP",
    )
    session = stripe.sessions[order.stripe_session_id]
    assert (order.currency, order.price, order.price_source) == (
        "EUR",
        Decimal("6800.00"),
        Order.PriceSource.QUOTE,
    )
    assert (session["currency"], session["amount_total"]) == ("eur", 680000)

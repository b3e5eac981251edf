"""Read-only admin pages show what the record holds: an empty read-only field is left out
(its label with it), a filled one and every editable one stay, and saving a page whose
empty fields were left out changes none of them (common/admin_fieldsets.py)."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from common.admin_fieldsets import value_is_empty
from orders.models import Order
from reports.models import Licence
from tests.factories import LicenceFactory, ReportFactory, SampleRequestFactory
from tests.reports.orders_support import fulfilled_order
from tests.support.staff import sales_member, superuser

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def label(text: str) -> str:
    """How the admin labels a field on a change page (read-only or not)."""
    return f"{text}:</label>"


@pytest.fixture
def order():
    report = ReportFactory()
    LicenceFactory(report=report, kind=Licence.Kind.SINGLE, price=Decimal("3900.00"))
    order, _ = fulfilled_order(report)
    return order


def test_a_sample_request_page_leaves_out_empty_fields_and_keeps_filled_ones():
    sample = SampleRequestFactory(phone="", message="", company="Acme Pharma")
    page = signed_in(sales_member()).get(f"/admin/enquiries/samplerequest/{sample.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert label("Company") in html and "Acme Pharma" in html
    assert label("Job title") in html
    for empty in ("Phone", "Message", "Utm source", "Failed at", "Error"):
        assert label(empty) not in html, empty


def test_a_sample_request_page_folds_the_technical_fields_away():
    sample = SampleRequestFactory(user_agent="Mozilla/5.0 (X11)")
    html = (
        signed_in(sales_member())
        .get(f"/admin/enquiries/samplerequest/{sample.pk}/change/")
        .content.decode()
    )
    folded = re.search(
        r"<details><summary>\s*<h2[^>]*>Consent and origin</h2>.*?</details>", html, re.S
    )
    assert folded and "Mozilla/5.0 (X11)" in folded.group()


def test_an_order_page_keeps_empty_editable_fields_for_whoever_may_edit_them(order):
    html = signed_in(superuser()).get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert order.attention_note == ""
    assert label("Attention note") in html and 'name="attention_note"' in html
    assert label("Buyer name") in html and "Jane Doe" in html
    for empty in ("Stripe refund id", "Buyer VAT ID", "Recovery url", "Disputed at"):
        assert label(empty) not in html, empty


def test_an_order_page_seen_read_only_leaves_out_the_empty_note(order):
    html = signed_in(sales_member()).get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert label("Attention note") not in html and 'name="attention_note"' not in html
    assert label("Buyer company") in html


def test_an_order_page_leaves_out_inlines_with_no_rows_that_take_none(order):
    url = f"/admin/orders/order/{order.pk}/change/"
    seen_by_sales = signed_in(sales_member()).get(url).content.decode()
    assert 'id="events-group"' in seen_by_sales  # the order's timeline has rows
    assert 'id="downloads-group"' not in seen_by_sales  # nothing downloaded yet
    assert 'id="seats-group"' not in seen_by_sales  # no seats, and Sales may add none
    seen_by_superuser = signed_in(superuser()).get(url).content.decode()
    assert 'id="seats-group"' in seen_by_superuser  # may name a seat: the empty table stays


def test_saving_an_order_page_keeps_the_fields_it_left_out(order):
    Order.objects.filter(pk=order.pk).update(stripe_refund_id="", buyer_vat_id="DE123456789")
    before = Order.objects.get(pk=order.pk)
    client = signed_in(superuser())
    url = f"/admin/orders/order/{order.pk}/change/"
    page = client.get(url)
    data = _change_form_post_data(page) | {"needs_attention": "on", "attention_note": "Call"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    after = Order.objects.get(pk=order.pk)
    assert after.needs_attention and after.attention_note == "Call"
    kept = ("buyer_vat_id", "stripe_refund_id", "amount_paid", "paid_at", "status")
    kept += ("stripe_payment_intent_id", "licence_kind", "buyer_name", "utm_source")
    for name in kept:
        assert getattr(after, name) == getattr(before, name), name


@pytest.mark.parametrize(
    ("value", "empty"),
    [(None, True), ("", True), (" — ", True), ("-", True), ([], True), (False, False)],
)
def test_what_counts_as_empty(value, empty):
    assert value_is_empty(value) is empty
    assert value_is_empty(0) is False and value_is_empty("0") is False


def _change_form_post_data(page) -> dict:
    """What the browser posts from a change page: the form's editable fields as shown, and
    each inline's management form."""
    data = {}
    form = page.context["adminform"].form
    for bound in form:
        value = bound.value()
        if value is True:
            data[bound.html_name] = "on"
        elif value not in (None, False):
            data[bound.html_name] = value
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for bound in management:
            data[bound.html_name] = bound.value()
    return data

"""The order records which version of the terms of sale the buyer accepted (pages/)."""

import pytest

from orders.models import Order
from pages.models import PageVersion
from pages.services import page_version_create, page_version_publish
from tests.reports.orders_support import purchase_post

pytestmark = pytest.mark.django_db


def test_the_order_records_the_terms_version_the_purchase_page_showed(
    client, stripe, report_on_sale
):
    page = client.get(f"/purchase/{report_on_sale.number}").content.decode()
    assert 'href="/terms/v1"' in page and "version 1," in page
    page_version_publish(
        version=page_version_create(page="terms", title="Terms of sale", body="Two.")
    )
    assert 'href="/terms/v2"' in client.get(f"/purchase/{report_on_sale.number}").content.decode()

    purchase_post(client, report_on_sale, licence="single")

    order = Order.objects.get()
    assert order.terms_version == PageVersion.objects.get(page="terms", number=2)

"""Staff see and manage an order's seats in admin: a new row in the Seats inline names the
next free seat, a changed name or email reassigns it (the old holder's links stop), both
through the buyer's own services."""

import pytest
from django.urls import reverse

from orders.models import DownloadLink, Seat
from orders.services import seats
from reports.services.seed import report_load_seed
from tests.accounts.support import multi_user_order
from tests.common.test_pagecache import AdminFormReader

pytestmark = pytest.mark.django_db


def order_form(admin_client, order) -> tuple[str, dict]:
    url = reverse("admin:orders_order_change", args=[order.pk])
    reader = AdminFormReader()
    reader.feed(admin_client.get(url).content.decode())
    assert "seats-TOTAL_FORMS" in reader.data
    return url, reader.data


def test_staff_name_and_reassign_seats_from_the_order_page(admin_client):
    order = multi_user_order(report_load_seed().report, email="jane@acme.example")
    url, data = order_form(admin_client, order)
    data |= {"seats-TOTAL_FORMS": "1", "seats-0-name": "Ann Lee", "seats-0-email": "ann@x.example"}
    assert admin_client.post(url, data).status_code == 302
    ann = Seat.objects.get()
    assert (ann.number, ann.name) == (2, "Ann Lee")

    Seat.objects.filter(pk=ann.pk).update(path="orders/test/seat.pdf")
    seats.seat_link_send(seat=Seat.objects.get(pk=ann.pk), first=True)
    url, data = order_form(admin_client, order)
    assert data["seats-0-id"] == str(ann.pk)
    data |= {"seats-0-name": "Cy Diaz", "seats-0-email": "cy@x.example"}
    assert admin_client.post(url, data).status_code == 302
    ann.refresh_from_db()
    assert ann.released_at is not None
    assert ann.download_links.get().revoke_reason == DownloadLink.RevokeReason.REASSIGNED
    cy = Seat.objects.get(released_at__isnull=True)
    assert (cy.number, cy.name, cy.email) == (2, "Cy Diaz", "cy@x.example")
    assert "Cy Diaz" in admin_client.get(url).content.decode()

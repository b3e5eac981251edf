"""Erasing a buyer also erases what their account and seats hold: the colleagues' names,
addresses and copies, and the buyer account that sign-in links open."""

import pytest
from django.contrib.auth import get_user_model

from accounts import services
from orders.models import DownloadLink, Seat
from orders.services import seats
from privacy.services.erasure import contact_erase
from reports.services.seed import report_load_seed
from tests.accounts.support import multi_user_order

pytestmark = pytest.mark.django_db


def test_erasing_the_buyer_erases_their_seats_and_account():
    report = report_load_seed().report
    order = multi_user_order(report, email="jane.doe@acme-pharma.example")
    seat = seats.seat_add(order=order, name="Ann Lee", email="ann@example.com")
    Seat.objects.filter(pk=seat.pk).update(path="orders/test/seat.pdf")
    seats.seat_link_send(seat=Seat.objects.get(pk=seat.pk), first=True)
    services.buyer_user_get_or_create(email="jane.doe@acme-pharma.example")
    assert order.contact is not None

    contact_erase(contact=order.contact)

    seat.refresh_from_db()
    assert "Ann" not in seat.name and seat.email.endswith("@erased.invalid")
    assert seat.path == ""
    assert not DownloadLink.objects.filter(order=order, revoked_at__isnull=True).exists()
    assert not get_user_model().objects.filter(username__startswith="buyer:").exists()

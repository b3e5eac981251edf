"""Named seats: the buyer names colleagues on My reports; the real worker stamps each seat's
copy from the rendered base and the SMTP server receives each seat's own link; a reassigned
seat's old link is refused; a refund stops every seat's link."""

import re

import pytest

from orders.models import DownloadLink, Seat
from orders.services import refunds, seats
from reports.services.seed import report_load_seed
from tests.accounts.support import (
    download_through,
    multi_user_order,
    pdf_page_texts,
    signed_in,
)
from tests.reports.orders_support import path_of
from tests.support.renders import install_rendered_bases

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@acme-pharma.example"


@pytest.fixture
def report(celery_worker):
    report = report_load_seed().report
    install_rendered_bases(report, kinds=("full",))
    return report


def seat_link(mailbox, to: str) -> str:
    message = mailbox.wait_for(1, to=to, timeout=60)[-1]
    body = message.get_body(preferencelist=("plain",)).get_content()
    return path_of(re.search(r"https?://\S+/download/\S+", body).group(0))


def add_seat(client, order, name, email):
    response = client.post(
        f"/account/reports/{order.reference}/seats", {"name": name, "email": email}
    )
    assert response.status_code == 302
    return Seat.objects.get(order=order, email=email, released_at__isnull=True)


def test_each_seat_gets_its_own_stamped_copy_and_a_reassigned_seat_stops(client, report, mailbox):
    order = multi_user_order(report, email=BUYER)
    signed_in(client, BUYER)
    page = client.get("/account/reports").content.decode()
    assert "Add seat" in page

    add_seat(client, order, "Ann Lee", "ann@acme-pharma.example")
    add_seat(client, order, "Bo Chen", "bo@acme-pharma.example")
    for name, to, number in (
        ("Ann Lee", "ann@acme-pharma.example", 2),
        ("Bo Chen", "bo@acme-pharma.example", 3),
    ):
        pages = pdf_page_texts(download_through(client.__class__(), seat_link(mailbox, to)))
        stamp = f"Licensed to {name}, Acme Pharma — seat {number} of 5"
        assert len(pages) > 1
        assert all(stamp in text for text in pages)
    page = client.get("/account/reports").content.decode()
    assert "Ann Lee" in page and "Bo Chen" in page

    old_link = seat_link(mailbox, "ann@acme-pharma.example")
    ann = Seat.objects.get(email="ann@acme-pharma.example")
    response = client.post(
        f"/account/reports/{order.reference}/seats/{ann.pk}/reassign",
        {"name": "Cy Diaz", "email": "cy@acme-pharma.example"},
    )
    assert response.status_code == 302
    refused = client.get(old_link)
    assert refused.status_code == 410
    assert "given to someone else" in refused.content.decode()
    assert client.post(old_link).status_code == 410
    pages = pdf_page_texts(
        download_through(client.__class__(), seat_link(mailbox, "cy@acme-pharma.example"))
    )
    assert all("Licensed to Cy Diaz, Acme Pharma — seat 2 of 5" in text for text in pages)
    assert not any("Ann Lee" in text for text in pages)
    ann.refresh_from_db()
    assert ann.released_at is not None
    assert ann.download_links.get().revoke_reason == DownloadLink.RevokeReason.REASSIGNED

    # The buyer's own fresh link leaves the seats' links alone.
    client.post(f"/account/reports/{order.reference}/send-link")
    bo = Seat.objects.get(email="bo@acme-pharma.example")
    assert bo.download_links.filter(revoked_at__isnull=True).count() == 1

    # A refund stops every link, the seats' included, and My reports says so.
    refunds.order_refund_record(order=order, amount_refunded=590000, fully=True)
    assert not DownloadLink.objects.filter(order=order, revoked_at__isnull=True).exists()
    assert client.get(seat_link(mailbox, "bo@acme-pharma.example")).status_code == 410
    page = client.get("/account/reports").content.decode()
    assert "Refunded on" in page
    assert "Add seat" not in page


def test_a_multi_user_licence_names_four_colleagues_at_most(client, report):
    order = multi_user_order(report, email=BUYER)
    for n in range(4):
        seats.seat_add(order=order, name=f"Person {n}", email=f"p{n}@example.com")
    with pytest.raises(seats.SeatNotAllowed):
        seats.seat_add(order=order, name="Fifth", email="p5@example.com")
    signed_in(client, BUYER)
    client.post(
        f"/account/reports/{order.reference}/seats", {"name": "Fifth", "email": "p5@example.com"}
    )
    assert Seat.objects.filter(order=order).count() == 4
    assert sorted(Seat.objects.values_list("number", flat=True)) == [2, 3, 4, 5]


def test_enterprise_seats_are_unlimited_but_named(report):
    order = multi_user_order(report, email=BUYER, kind="enterprise")
    for n in range(7):
        seats.seat_add(order=order, name=f"Person {n}", email=f"p{n}@example.com")
    assert seats.seats_free(order) is None
    seat = Seat.objects.get(number=8)
    assert seat.name == "Person 6"


def test_a_single_user_licence_has_no_seats_and_others_cannot_add_any(client, report):
    order = multi_user_order(report, email=BUYER, kind="single")
    with pytest.raises(seats.SeatNotAllowed):
        seats.seat_add(order=order, name="Ann", email="ann@example.com")
    multi = multi_user_order(report, email="someone@example.com")
    signed_in(client, BUYER)
    response = client.post(
        f"/account/reports/{multi.reference}/seats", {"name": "Ann", "email": "ann@example.com"}
    )
    assert response.status_code == 404
    assert not Seat.objects.exists()

"""New editions on the real stack: staff publish a new edition; the real worker stamps a copy
of it for each recent buyer and each of their seats and the SMTP server receives each
person's link once, however often the edition is published or its job run; an older buyer
gets an upgrade offer whose link opens the purchase page at the discounted quote; refunded
and disputed buyers get nothing."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from common import jobs
from common.models import Job
from contacts.models import OutboundEmail
from orders.models import EditionNotice, Order, Seat
from orders.services import editions, refunds, seats
from reports.services.editions import report_edition_publish
from reports.services.seed import report_load_seed
from tests.accounts.support import download_through, multi_user_order, pdf_page_texts
from tests.reports.orders_support import fulfilled_order, path_of
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@acme-pharma.example"
SEATS = (("Ann Lee", "ann@acme-pharma.example", 2), ("Bo Chen", "bo@acme-pharma.example", 3))


@pytest.fixture
def report(celery_worker):
    report = report_load_seed().report
    install_rendered_bases(report, kinds=("full",))
    return report


def publish(report, *, days_later=30, discount=25):
    """Publish an edition as staff do, with its new base rendered in the same transaction
    (the worker's stamping then finds it ready instead of rendering it again)."""
    with transaction.atomic():
        edition = report_edition_publish(
            report=report,
            edition_date=report.edition_date + timedelta(days=days_later),
            upgrade_discount_percent=discount,
            note="Updated forecasts to 2035.",
        )
        install_rendered_bases(report, kinds=("full",))
    return edition


def notices_done(edition):
    def done():
        kinds = (editions.NOTICES_JOB, editions.NOTICE_JOB)
        return not Job.objects.filter(kind__in=kinds, state__in=Job.ACTIVE).exists() and (
            Job.objects.filter(kind=editions.NOTICES_JOB, target_id=edition.pk).exists()
        )

    wait_until(done, timeout=90, message="the edition's jobs did not finish")


def edition_mails(to):
    return OutboundEmail.objects.filter(template=editions.COPY_TEMPLATE, to=to)


def link_of(mailbox, to, count):
    message = mailbox.wait_for(count, to=to, timeout=90)[-1]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "A new edition of" in body
    return path_of(re.search(r"https?://\S+/download/\S+", body).group(0))


def test_recent_buyer_and_each_seat_get_the_new_edition_stamped_for_them_once(
    client, report, mailbox
):
    order = multi_user_order(report, email=BUYER)
    for name, email, _ in SEATS:
        seats.seat_add(order=order, name=name, email=email)
    for _, email, _ in SEATS:
        mailbox.wait_for(1, to=email, timeout=60)  # each seat's own first copy
    wait_until(lambda: not Seat.objects.filter(order=order, path="").exists())
    old_paths = {seat.pk: seat.path for seat in Seat.objects.filter(order=order)}

    edition = publish(report)
    buyer_pages = pdf_page_texts(download_through(client.__class__(), link_of(mailbox, BUYER, 1)))
    assert len(buyer_pages) > 1
    assert all(
        f"Licensed to Acme Pharma — Multi-user — order {order.reference}" in t for t in buyer_pages
    )
    for name, email, number in SEATS:
        pages = pdf_page_texts(download_through(client.__class__(), link_of(mailbox, email, 2)))
        assert all(f"Licensed to {name}, Acme Pharma — seat {number} of 5" in t for t in pages)
        assert not any(other in " ".join(pages) for other, _, _ in SEATS if other != name)
    notices_done(edition)
    assert EditionNotice.objects.filter(edition=edition, kind="copy").count() == 3
    for seat in Seat.objects.filter(order=order):
        assert seat.path != old_paths[seat.pk]  # the seat's links now serve the new edition

    # Published again, and the job run again: nobody is told twice.
    publish(report)
    notices_done(edition)
    with transaction.atomic():
        jobs.enqueue(editions.NOTICES_JOB, target_id=edition.pk, restart=True)
    notices_done(edition)
    wait_until(lambda: not Job.objects.filter(state__in=Job.ACTIVE).exists(), timeout=60)
    assert EditionNotice.objects.filter(edition=edition).count() == 3
    assert len(mailbox.to(BUYER)) == 1
    assert edition_mails(BUYER).count() == 1
    for _, email, _ in SEATS:
        assert len(mailbox.to(email)) == 2  # their first copy, and the new edition once
        assert edition_mails(email).count() == 1


def test_older_buyer_gets_an_upgrade_offer_and_refunded_or_disputed_buyers_nothing(
    client, report, mailbox, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_editions"  # the purchase page sells online
    older, _ = fulfilled_order(report, email="old@acme-pharma.example")
    long_ago = timezone.now() - relativedelta(months=13)
    Order.objects.filter(pk=older.pk).update(paid_at=long_ago)
    refunded, _ = fulfilled_order(report, email="refunded@acme-pharma.example")
    refunds.order_refund_record(order=refunded, amount_refunded=1, fully=True)
    disputed, _ = fulfilled_order(report, email="disputed@acme-pharma.example")
    refunds.order_dispute_record(order=disputed, dispute={"id": "dp_ed1"})

    edition = publish(report, discount=25)
    message = mailbox.wait_for(1, to="old@acme-pharma.example", timeout=90)[-1]
    body = message.get_body(preferencelist=("plain",)).get_content()
    list_price = older.licence.price_in(older.currency)
    offer = (list_price * Decimal("0.75")).quantize(Decimal("0.01"))
    assert f"{older.currency} {offer:,.2f}" in body and "25% off" in body
    assert "same Single user licence" in " ".join(body.split())
    assert message["List-Unsubscribe"]
    url = re.search(r"https?://\S+/purchase/\S+", body).group(0)
    page = client.get(path_of(url))
    assert page.status_code == 200
    html = page.content.decode()
    shown = f"{offer:,.2f}".removesuffix(".00")  # as the page's floatformat:"-2g" shows it
    assert f"<strong>Your quoted price:</strong> {older.currency} {shown}" in html
    assert "for the Single user licence, for old@acme-pharma.example" in " ".join(html.split())
    assert 'value="old@acme-pharma.example"' in html

    notices_done(edition)
    assert list(EditionNotice.objects.values_list("order_id", "kind")) == [(older.pk, "offer")]
    assert not edition_mails("old@acme-pharma.example").exists()
    for to in ("refunded@acme-pharma.example", "disputed@acme-pharma.example"):
        assert (
            not OutboundEmail.objects.filter(to=to)
            .exclude(template__startswith="orders/email/order_")
            .exists()
        )

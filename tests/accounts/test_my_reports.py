"""My reports: every order bought with the signed-in address, its status and what is left
of its access, and the button that emails a fresh link to the purchase email."""

import pytest

from contacts.models import OutboundEmail
from orders.models import DownloadLink, Order
from orders.services import refunds
from reports.services.seed import report_load_seed
from tests.accounts.support import signed_in
from tests.reports.orders_support import fulfilled_order

pytestmark = pytest.mark.django_db
BUYER = "jane.doe@acme-pharma.example"


@pytest.fixture
def report():
    return report_load_seed().report


def section(page, order) -> str:
    html = page.content.decode()
    start = html.index(f'id="order-{order.reference}"')
    return html[start : html.index("</section>", start)]


def test_my_reports_lists_the_buyers_orders_with_their_status(client, report):
    mine, _ = fulfilled_order(report, email=BUYER)
    refunded, _ = fulfilled_order(report, email="JANE.DOE@acme-pharma.example")
    refunds.order_refund_record(order=refunded, amount_refunded=590000, fully=True)
    disputed, _ = fulfilled_order(report, email=BUYER)
    refunds.order_dispute_record(order=disputed, dispute={"id": "dp_1"})
    someone_elses, _ = fulfilled_order(report, email="other@example.com")
    pending = Order.objects.create(
        reference="SMO-PENDING-1",
        report=report,
        licence=report.licences.get(kind="single"),
        licence_kind="single",
        licence_name="Single user",
        price=10,
        currency="USD",
        buyer_email=BUYER,
        buyer_name="J",
        buyer_company="A",
    )

    page = signed_in(client, BUYER).get("/account/reports")
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    assert someone_elses.reference not in html
    assert pending.reference not in html
    current = section(page, mine)
    assert report.title in current
    assert "Single user" in current
    assert f"{mine.currency} {mine.price:,.2f}" in current
    assert '<dd class="col-sm-9 order-status">Paid</dd>' in current
    assert "5 on your current link" in current
    assert "Email a fresh download link" in current
    assert "Refunded on" in section(page, refunded)
    assert "Email a fresh download link" not in section(page, refunded)
    assert "Payment disputed" in section(page, disputed)


def test_the_fresh_link_button_emails_the_purchase_address(client, report):
    order, _ = fulfilled_order(report, email=BUYER)
    first = order.download_links.get()
    signed_in(client, "Jane.Doe@ACME-pharma.example")
    response = client.post(f"/account/reports/{order.reference}/send-link")
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.revoke_reason == DownloadLink.RevokeReason.SUPERSEDED
    email = OutboundEmail.objects.get(template="orders/email/order_download_link")
    assert email.to == BUYER
    assert order.events.filter(kind="link_issued").exists()


def test_another_buyers_order_cannot_be_sent_a_link(client, report):
    order, _ = fulfilled_order(report, email="other@example.com")
    signed_in(client, BUYER)
    assert client.post(f"/account/reports/{order.reference}/send-link").status_code == 404
    assert order.download_links.filter(revoked_at__isnull=True).count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get("/account/reports")["Location"] == "/account/sign-in"
    assert client.post("/account/reports/SMO-1/send-link")["Location"] == "/account/sign-in"


def test_a_dispute_stops_every_seat_and_winning_it_sends_each_a_fresh_link(client, report):
    from orders.models import Seat
    from orders.services import seats
    from tests.accounts.support import multi_user_order

    order = multi_user_order(report, email=BUYER)
    seat = seats.seat_add(order=order, name="Ann Lee", email="ann@example.com")
    Seat.objects.filter(pk=seat.pk).update(path="orders/test/seat.pdf")
    seats.seat_link_send(seat=Seat.objects.get(pk=seat.pk), first=True)
    refunds.order_dispute_record(order=order, dispute={"id": "dp_9", "status": "needs_response"})
    assert not DownloadLink.objects.filter(order=order, revoked_at__isnull=True).exists()
    page = signed_in(client, BUYER).get("/account/reports")
    assert "Payment disputed" in section(page, order)

    refunds.order_dispute_record(order=order, dispute={"id": "dp_9", "status": "won"})
    live = DownloadLink.objects.filter(order=order, revoked_at__isnull=True)
    assert live.filter(seat=seat).count() == 1
    assert live.filter(seat__isnull=True).count() == 1
    assert (
        OutboundEmail.objects.filter(
            template="orders/email/seat_download_link", to="ann@example.com"
        ).count()
        == 2
    )
    assert '<dd class="col-sm-9 order-status">Paid</dd>' in section(
        client.get("/account/reports"), order
    )


def test_my_reports_links_the_invoice_and_names_the_credit_note(client, report):
    invoiced, _ = fulfilled_order(report, email=BUYER)
    Order.objects.filter(pk=invoiced.pk).update(
        stripe_invoice_number="INV-0042",
        stripe_invoice_url="https://invoice.stripe.test/i/acct_1/inv_42",
        stripe_invoice_pdf="https://pay.stripe.test/invoice/inv_42/pdf",
    )
    refunded, _ = fulfilled_order(report, email=BUYER)
    Order.objects.filter(pk=refunded.pk).update(
        stripe_invoice_number="INV-0043",
        stripe_invoice_url="https://invoice.stripe.test/i/acct_1/inv_43",
        stripe_credit_note_number="INV-0043-CN-01",
    )
    refunds.order_refund_record(order=refunded, amount_refunded=590000, fully=True)
    plain, _ = fulfilled_order(report, email=BUYER)

    page = signed_in(client, BUYER).get("/account/reports")
    invoiced_html = section(page, invoiced)
    assert (
        '<a href="https://invoice.stripe.test/i/acct_1/inv_42" rel="noopener">INV-0042</a>'
        in invoiced_html
    )
    assert '(<a href="https://pay.stripe.test/invoice/inv_42/pdf" rel="noopener">PDF</a>)' in (
        invoiced_html
    )
    assert "Credit note" not in invoiced_html
    refunded_html = section(page, refunded)
    assert "INV-0043</a>" in refunded_html
    assert "PDF</a>" not in refunded_html
    assert '<dd class="col-sm-9 order-credit-note">INV-0043-CN-01</dd>' in refunded_html
    plain_html = section(page, plain)
    assert "order-invoice" not in plain_html
    assert "Credit note" not in plain_html

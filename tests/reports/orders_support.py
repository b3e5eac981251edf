"""Helpers for the purchase tests: posting the purchase form, paying on the Stripe test
server, a fulfilled order with a real PDF in private storage."""

import io
import re

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from pypdf import PdfWriter

from contacts.models import Contact
from orders.models import Deliverable, Order
from orders.services import checkout, downloads, webhooks
from tests.support.jobs import run_job

BUYER = {
    "email": "jane.doe@acme-pharma.example",
    "name": "Jane Doe",
    "company": "Acme Pharma",
    "vat_id": "",
    "promotion_code": "",
    "terms": "on",
}


def purchase_post(client, report, **fields):
    """Show the purchase page, then press Pay with BUYER's details (overridable)."""
    query = fields.pop("query", "")
    page = client.get(f"/purchase/{report.number}{query}")
    assert page.status_code == 200, page.content[:500]
    data = {
        "licence": "single",
        **BUYER,
        "form_started": page.context["form"]["form_started"].value(),
    }
    data.update(fields)
    return client.post(
        f"/purchase/{report.number}{query}", {k: v for k, v in data.items() if v is not None}
    )


def order_started(client, report, stripe, **fields) -> Order:
    response = purchase_post(client, report, **fields)
    assert response.status_code == 303, response.content[:2000]
    return Order.objects.get(stripe_session_id=response["Location"].rsplit("/", 1)[-1])


def webhook_post(client, stripe, event, *, signature="valid"):
    body, headers = stripe.signed_request(event, signature=signature)
    extra = (
        {"Stripe-Signature": headers["Stripe-Signature"]} if "Stripe-Signature" in headers else {}
    )
    return client.post(
        "/stripe/webhook/", data=body, content_type="application/json", headers=extra
    )


def webhook_deliver_and_process(client, stripe, event):
    """Post the event as Stripe would, then run its job here (no worker). Returns the row."""
    from orders.models import StripeEvent

    response = webhook_post(client, stripe, event)
    assert response.status_code == 200, response.content
    row = StripeEvent.objects.get(stripe_id=event["id"])
    run_job(webhooks.JOB, row.pk)
    row.refresh_from_db()
    return row


def tiny_pdf(text_pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(text_pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def fulfilled_order(report, *, email=BUYER["email"], company="Acme Pharma") -> tuple[Order, str]:
    """An order paid and delivered (test data: a small real PDF in private storage) with a
    live download link; returns the order and the link's URL."""
    terms = checkout.purchase_terms_list(licence=report.licences.get(kind="single"))
    order = checkout.order_create(
        report=report, terms=terms, buyer_email=email, buyer_name="Jane Doe", buyer_company=company
    )
    path = storages["private"].save(f"orders/test/{order.reference}.pdf", ContentFile(tiny_pdf()))
    Deliverable.objects.create(order=order, path=path)
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.FULFILLED,
        paid_at=timezone.now(),
        fulfilled_at=timezone.now(),
        amount_paid=order.price,
        stripe_payment_intent_id=f"pi_test_{order.pk}",
    )
    order.refresh_from_db()
    _, url = downloads.download_link_create(order=order)
    return order, url


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def link_in(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/download/\S+", body).group(0)


def quote_for(
    report, *, kind="enterprise", price="6500.00", email="cfo@acme-pharma.example", currency=""
):
    """A special price sent by sales the way the inbox does it (an enquiry, a reply with a
    quoted price); returns the token of the reply's checkout link."""
    from decimal import Decimal

    from enquiries.services import enquiries
    from tests.factories import EnquiryFactory, UserFactory

    contact = Contact.objects.get_or_create(email=email, defaults={"name": "Chris Fo"})[0]
    enquiry = EnquiryFactory(report=report, contact=contact)
    reply = enquiries.enquiry_reply_send(
        enquiry=enquiry,
        author=UserFactory(username=f"quoter-{enquiry.pk}"),
        subject="Your price",
        body="As agreed.",
        licence=report.licences.get(kind=kind),
        quoted_price=Decimal(price),
        currency=currency,
    )
    return reply.purchase_url.rsplit("?quote=", 1)[1]

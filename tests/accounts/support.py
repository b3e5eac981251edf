"""Signing a test client in as a buyer, the way the link does (the token's POST)."""

from sesame.utils import get_token

from accounts import services


def signed_in(client, email: str):
    user = services.buyer_user_get_or_create(email=email)
    response = client.post("/account/sign-in/confirm", {"token": get_token(user)})
    assert response.status_code == 302, response.content[:500]
    return client


def multi_user_order(report, *, email: str, kind: str = "multi"):
    """A fulfilled order for a multi-user (or enterprise) licence, with the buyer's own copy
    (a small real PDF) and a live link. The report's bases must be rendered to stamp seats."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages
    from django.utils import timezone

    from orders.models import Deliverable, Order
    from orders.services import checkout, downloads
    from tests.reports.orders_support import tiny_pdf

    terms = checkout.purchase_terms_list(licence=report.licences.get(kind=kind))
    order = checkout.order_create(
        report=report,
        terms=terms,
        buyer_email=email,
        buyer_name="Jane Doe",
        buyer_company="Acme Pharma",
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
    downloads.download_link_create(order=order)
    return order


def pdf_page_texts(content: bytes) -> list[str]:
    import io

    from pypdf import PdfReader

    return [
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(content)).pages
    ]


def download_through(client, path: str) -> bytes:
    """Open a download link's page and press Download; the PDF's bytes."""
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content)

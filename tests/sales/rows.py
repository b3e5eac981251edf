"""Rows the sales tests create directly (the scores and figures read them; how they came
to be is other tests' business): samples and enquiries at a chosen time, orders in a
chosen state."""

import itertools
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from contacts.models import Contact
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order
from tests.factories import LicenceFactory

_references = itertools.count(1)


def contact(email: str, **fields) -> Contact:
    return Contact.objects.create(email=email, name=fields.pop("name", "Jane Doe"), **fields)


def sample(person: Contact, report, *, at: datetime | None = None, **fields) -> SampleRequest:
    row = SampleRequest.objects.create(
        contact=person,
        report=report,
        email=person.email,
        name=person.name,
        company=person.company or "Acme",
        consent_version="2025-03",
        consent_at=timezone.now(),
        **fields,
    )
    if at is not None:
        SampleRequest.objects.filter(pk=row.pk).update(created_at=at)
        row.created_at = at
    return row


def enquiry(person: Contact, report, *, at: datetime | None = None, **fields) -> Enquiry:
    return Enquiry.objects.create(
        contact=person,
        report=report,
        type="pricing",
        question="What does it cost?",
        consent_version="2025-03",
        consent_at=timezone.now(),
        created_at=at or timezone.now(),
        **fields,
    )


def order(
    person: Contact | None,
    report,
    *,
    status: str = Order.Status.FULFILLED,
    paid_at: datetime | None = None,
    amount: str = "3900.00",
    currency: str = "USD",
    **fields,
) -> Order:
    licence = report.licences.first() or LicenceFactory(report=report)
    paid = status in (Order.Status.PAID, Order.Status.FULFILLED, Order.Status.REFUNDED)
    return Order.objects.create(
        reference=f"SMO-2026-{next(_references):06d}",
        report=report,
        licence=licence,
        licence_kind=licence.kind,
        licence_name="Single user",
        price=Decimal(amount),
        currency=currency,
        buyer_email=person.email if person else "anon@example.org",
        buyer_name="Buyer",
        buyer_company="Buyer Co",
        contact=person,
        status=status,
        paid_at=(paid_at or timezone.now()) if paid else None,
        amount_paid=Decimal(amount) if paid else None,
        **fields,
    )

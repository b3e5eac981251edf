"""Anyone can type anyone's email address into a public form. Such a post never changes the
name or company the contact already has (they are stamped on the samples staff send); the
post's own lead keeps what was typed on it."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse
from pypdf import PdfReader

from contacts.models import Contact
from enquiries.models import Enquiry, SampleRequest
from enquiries.services import enquiries as services
from orders.services import checkout
from reports.models import ReportDocument
from reports.services import documents
from tests.enquiries.conftest import form_started_token
from tests.factories import LicenceFactory
from tests.reports.orders_support import tiny_pdf
from tests.support.jobs import run_job
from tests.support.staff import sales_member

pytestmark = pytest.mark.django_db

EMAIL = "jane.doe@acme-pharma.example"


def lead(**overrides):
    return {
        "name": "Jane Doe",
        "email": EMAIL,
        "company": "Acme Pharma",
        "job_title": "Head of Clinical Operations",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(),
    } | overrides


@pytest.fixture
def report():
    return LicenceFactory(kind="single").report


def enquire(client, report, **overrides):
    url = reverse("enquiries:pre-order-enquiry", args=[report.number])
    data = lead(type="pricing", question=overrides.pop("question", "What does it cost?"))
    response = client.post(url, data | overrides)
    assert response.status_code == 302, response.content[:300]
    return Enquiry.objects.order_by("-pk").first()


def test_an_anonymous_enquiry_does_not_overwrite_the_contact(client, report):
    first = enquire(client, report)
    second = enquire(
        client, report, name="Mallory", company="Evil Corp", question="Anything", job_title="X"
    )
    contact = Contact.objects.get(email=EMAIL)
    assert (contact.name, contact.company, contact.job_title) == (
        "Jane Doe",
        "Acme Pharma",
        "Head of Clinical Operations",
    )
    assert (first.name, first.company) == ("Jane Doe", "Acme Pharma")
    assert (second.name, second.company, second.job_title) == ("Mallory", "Evil Corp", "X")


def test_an_anonymous_sample_request_does_not_overwrite_the_contact(client, report):
    enquire(client, report)
    url = reverse("enquiries:request-sample", args=[report.number])
    assert client.post(url, lead(name="Mallory", company="Evil Corp")).status_code == 302
    contact = Contact.objects.get(email=EMAIL)
    assert (contact.name, contact.company) == ("Jane Doe", "Acme Pharma")
    assert (SampleRequest.objects.get().name, SampleRequest.objects.get().company) == (
        "Mallory",
        "Evil Corp",
    )


def test_a_purchase_does_not_overwrite_the_contact(report):
    enquiry_contact = Contact.objects.create(email=EMAIL, name="Jane Doe", company="Acme Pharma")
    terms = checkout.purchase_terms_list(licence=report.licences.get())
    order = checkout.order_create(
        report=report, terms=terms, buyer_email=EMAIL, buyer_name="M", buyer_company="Evil Corp"
    )
    enquiry_contact.refresh_from_db()
    assert (enquiry_contact.name, enquiry_contact.company) == ("Jane Doe", "Acme Pharma")
    assert (order.buyer_name, order.buyer_company, order.contact) == (
        "M",
        "Evil Corp",
        enquiry_contact,
    )


def test_a_later_form_fills_what_the_contact_lacks(client, report):
    Contact.objects.create(email=EMAIL, name="Jane Doe")
    enquire(client, report, company="Acme Pharma", phone="+49 30 1234567")
    contact = Contact.objects.get(email=EMAIL)
    assert (contact.name, contact.company, str(contact.phone)) == (
        "Jane Doe",
        "Acme Pharma",
        "+49301234567",
    )


def test_a_sample_staff_attach_to_a_reply_is_stamped_with_the_contacts_name(client, report):
    """The overwritten name used to end up printed on every page of the sample."""
    jane = enquire(client, report)
    enquire(client, report, name="Mallory", company="Evil Corp", question="Anything")
    _base_sample_ready(report)

    reply = services.enquiry_reply_send(
        enquiry=jane,
        author=sales_member(),
        subject="Your sample",
        body="Here it is.",
        attach_sample=True,
    )
    assert run_job("reply.prepare", reply.pk) == "done"
    reply.refresh_from_db()
    with storages["private"].open(reply.sample_path) as handle:
        stamp = PdfReader(io.BytesIO(handle.read())).metadata["/Subject"]
    assert stamp.startswith("Prepared for Jane Doe, Acme Pharma")
    assert "Mallory" not in stamp and "Evil" not in stamp


def _base_sample_ready(report):
    """A ready base sample of the report's current content (a blank PDF: stamping is what
    is under test, not rendering)."""
    for document in documents.report_documents_rerender(report=report):
        path = storages["private"].save(f"tests/base-{document.pk}.pdf", ContentFile(tiny_pdf()))
        ReportDocument.objects.filter(pk=document.pk).update(
            status=ReportDocument.Status.READY, file_path=path, page_count=2
        )

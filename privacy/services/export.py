"""A copy of everything we hold about one contact."""

from django.db.models import Q
from django.utils import timezone

from common.logging import secrets_redact
from contacts.models import ATTRIBUTION_FIELDS, Contact, OutboundEmail
from enquiries.models import Enquiry, InboundEmail, SampleRequest
from orders.models import Order
from sales.models import Lead, LeadCall

ERASED = "(erased)"
CONTACT_FIELDS = ("email", "name", "company", "job_title", "country", "phone", "created_at")
LEAD_FIELDS = ("name", "company", "job_title", "country", "phone", "ip", "user_agent")


def contact_data_export(*, contact: Contact) -> dict:
    """Plain data (dates and decimals as Django's JSON encoder writes them). Download links
    in email bodies are redacted: the export is handed on, a live link must not be."""
    return {
        "exported_at": timezone.now(),
        "contact": _values(contact, CONTACT_FIELDS),
        "sample_requests": [_sample_request(r) for r in contact.sample_requests.all()],
        "enquiries": [_enquiry(e) for e in contact.enquiries.prefetch_related("replies")],
        "orders": [_order(o) for o in contact.orders.prefetch_related("downloads")],
        "emails": [_email(e) for e in contact_emails(contact=contact).order_by("created_at")],
        "emails_received": [
            _values(inbound, INBOUND_FIELDS)
            for inbound in contact_inbound_emails(contact=contact).order_by("received_at")
        ],
        "lead": _lead(contact),
        "marketing_consents": list(
            contact.marketing_consents.order_by("created_at").values(
                "created_at", "purpose", "topic", "granted", "wording", "version", "source", "ip"
            )
        ),
        "alerts": list(
            contact.alerts.order_by("created_at").values(
                "category__name", "created_at", "confirmed_at", "ended_at", "last_digest_at"
            )
        ),
    }


def _lead(contact: Contact) -> dict | None:
    """The lead score with its reasons, and the calls staff logged."""
    lead = Lead.objects.filter(contact=contact).first()
    if lead is None:
        return None
    return {
        "score": lead.score,
        "reasons": lead.reasons,
        "calls": [
            _values(call, ("created_at", "outcome", "note"))
            for call in LeadCall.objects.filter(lead=lead).order_by("created_at")
        ],
    }


INBOUND_FIELDS = ("received_at", "from_address", "subject", "full_text", "status")


def contact_inbound_emails(*, contact: Contact):
    """The emails this person sent us (read from the inbound mailbox): by their address, or
    filed in one of their enquiries."""
    return InboundEmail.objects.filter(
        Q(from_address__iexact=contact.email) | Q(enquiry__contact=contact)
    )


def _values(obj, fields) -> dict:
    return {field: _plain(getattr(obj, field)) for field in fields}


def _plain(value):
    """Phone numbers and countries as text; everything else as the JSON encoder knows it."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat") or hasattr(value, "quantize"):
        return value
    return str(value) if value else ""


def _sample_request(request: SampleRequest) -> dict:
    fields = ("created_at", "status", "email", "message", "consent_version", "consent_at")
    return {
        "report": f"{request.report.number} {request.report.title}",
        **_values(request, (*fields, *LEAD_FIELDS, *ATTRIBUTION_FIELDS, "emailed_at")),
    }


def _enquiry(enquiry: Enquiry) -> dict:
    fields = ("created_at", "type", "status", "question", "consent_version", "consent_at")
    return {
        "reference": enquiry.reference,
        "report": f"{enquiry.report.number} {enquiry.report.title}",
        **_values(enquiry, (*fields, *LEAD_FIELDS, *ATTRIBUTION_FIELDS)),
        "replies": [
            _values(reply, ("created_at", "subject", "body", "quoted_price", "quoted_currency"))
            for reply in enquiry.replies.all()
        ],
    }


def _order(order: Order) -> dict:
    fields = ("reference", "created_at", "status", "licence_name", "price", "currency")
    fields += ("amount_paid", "amount_refunded", "paid_at", "refunded_at")
    fields += ("buyer_email", "buyer_name", "buyer_company", "buyer_vat_id", "promotion_code")
    fields += ("payment_method_type", "payment_method_description")
    fields += ("tax_id_type", "tax_id_value", "billing_country", "amount_tax")
    fields += ("stripe_invoice_number", "stripe_invoice_url", "stripe_credit_note_number")
    return {
        "report": f"{order.report.number} {order.report.title}",
        **_values(order, (*fields, *ATTRIBUTION_FIELDS)),
        "downloads": [
            _values(d, ("downloaded_at", "ip", "user_agent")) for d in order.downloads.all()
        ],
    }


def _email(email: OutboundEmail) -> dict:
    data = _values(email, ("created_at", "to", "subject", "status", "sent_at"))
    return data | {"body": secrets_redact(email.body_text)}


def contact_emails(*, contact: Contact):
    """The emails sent to this person (by address, or linked to their contact row)."""
    return OutboundEmail.objects.filter(Q(contact=contact) | Q(to__iexact=contact.email))

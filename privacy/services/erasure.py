"""The right to erasure: anonymise in place, delete personalised files."""

import logging
import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.services import buyer_username
from common.files import private_files_delete_later
from common.models import Job
from contacts.models import ATTRIBUTION_DETAIL_FIELDS, Contact, OutboundEmail
from enquiries.models import Enquiry, EnquiryReply, FollowUp, SampleRequest
from orders.models import (
    Deliverable,
    DownloadLink,
    DownloadLog,
    Order,
    OrderEvent,
    Seat,
    StripeEvent,
)
from sales.models import Lead, LeadCall

from .export import contact_emails, contact_inbound_emails

logger = logging.getLogger(__name__)


ERASED = "(erased)"
# Errors and notes written by the code may quote the person (an SMTP refusal quotes the
# address, a staff flag the buyer): found by what names them, the names replaced.
QUOTING_TEXTS = (
    (OutboundEmail, "last_error"),
    (Job, "last_error"),
    (SampleRequest, "error"),
    (EnquiryReply, "last_error"),
    (Order, "deliverable_error"),
    (Order, "attention_note"),
    (OrderEvent, "message"),
    (StripeEvent, "result"),
    (StripeEvent, "last_error"),
)
# The error left on an email, a sample request or a reply that erasure stopped from going out.
NOT_SENT = "Not sent: the person's data was erased."


def erased_address(contact: Contact) -> str:
    return f"erased-{contact.pk}@erased.invalid"


@transaction.atomic
def contact_erase(*, contact: Contact) -> dict[str, int]:
    """Anonymise everything that identifies the person; returns what was touched, by kind.
    Files are deleted by a job after commit (a rollback keeps them; a storage outage delays
    them, retried until done: `private_files_delete_later`). Bulk
    `update()`s on purpose: these are redactions, not business changes, and must reach
    rows a model rule would refuse to save half-anonymised."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    address, now = erased_address(contact), timezone.now()
    files: list[str] = []
    addresses, names = _identifiers(contact)  # before anything is anonymised
    counts = {
        "texts": _quoting_texts_erase(addresses | names),
        "stripe_payloads": _stripe_payloads_erase(contact, addresses),
        "emails": _emails_erase(contact, address, now, files),
        "sample_requests": _sample_requests_erase(contact, address, files),
        "emails_received": _inbound_emails_erase(contact, address, files),
        "enquiries": _enquiries_erase(contact, now, files),
        "orders": _orders_erase(contact, address, now, files),
        "leads": _lead_erase(contact),
        "marketing": _marketing_erase(contact, now),
    }
    Contact.objects.filter(pk=contact.pk).update(
        email=address, name="Erased contact", company="", job_title="", country="", phone=""
    )
    Contact.objects.filter(pk=contact.pk).update(erased_at=now)
    _admin_log_erase(contact)
    private_files_delete_later(files)
    logger.info("contact %s erased: %s", contact.pk, counts)
    return counts


def _admin_log_erase(contact: Contact) -> None:
    """The admin's history stores each object's name as it was ("Maria Lopez <maria@…>")."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    for model, ids in (
        (Contact, [contact.pk]),
        (SampleRequest, contact.sample_requests.values_list("pk", flat=True)),
        (Enquiry, contact.enquiries.values_list("pk", flat=True)),
    ):
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr=ERASED)


def _emails_erase(contact, address, now, files) -> int:
    rows = contact_emails(contact=contact) | OutboundEmail.objects.filter(
        reply_to__iexact=contact.email
    )
    rows = rows | _lead_emails(contact)
    files += [path for path in rows.values_list("attachment_path", flat=True) if path]
    # Still queued: never sent (its job finds it failed and does nothing).
    rows.filter(status=OutboundEmail.Status.QUEUED).update(
        status=OutboundEmail.Status.FAILED, last_error=NOT_SENT
    )
    count = rows.update(
        subject=ERASED, body_text="", body_html="", attachment_path="", body_removed_at=now
    )
    # Last: the rows were found by these addresses.
    rows.filter(reply_to__iexact=contact.email).update(reply_to="")
    rows.filter(to__iexact=contact.email).update(to=address)
    return count


def _inbound_emails_erase(contact, address, files) -> int:
    """What the person wrote to us: text and attachments go, the row stays (anonymised) as
    the record that a message came in; its Message-ID keeps it from being read again."""
    rows = contact_inbound_emails(contact=contact)
    for attachments in rows.values_list("attachments", flat=True):
        files += [item.get("path", "") for item in attachments or [] if item.get("path")]
    return rows.update(
        from_address=address,
        from_name=ERASED,
        to_addresses="",
        subject=ERASED,
        body_text="",
        full_text="",
        problem="",
        attachments=[],
        refused_attachments=[],
    )


def _lead_emails(contact):
    """Emails about the person's leads and orders (the sales notices quote their details)."""
    from django.contrib.contenttypes.models import ContentType

    related = Q(pk__in=[])
    for model, ids in (
        (SampleRequest, contact.sample_requests.values_list("pk", flat=True)),
        (Enquiry, contact.enquiries.values_list("pk", flat=True)),
        (Order, contact.orders.values_list("pk", flat=True)),
    ):
        kind = ContentType.objects.get_for_model(model)
        related |= Q(related_type=kind, related_id__in=[str(pk) for pk in ids])
    return OutboundEmail.objects.filter(related)


def _sample_requests_erase(contact, address, files) -> int:
    requests = contact.sample_requests.all()
    files += [path for path in requests.values_list("file_path", flat=True) if path]
    requests.filter(
        status__in=(SampleRequest.Status.RECEIVED, SampleRequest.Status.PDF_READY)
    ).update(status=SampleRequest.Status.FAILED, error=NOT_SENT)
    return requests.update(
        email=address,
        name="Erased",
        company="",
        job_title="",
        country="",
        phone="",
        message="",
        ip=None,
        user_agent="",
        file_path="",
        **dict.fromkeys(ATTRIBUTION_DETAIL_FIELDS, ""),
    )


def _marketing_erase(contact, now) -> int:
    """Follow-ups and alerts end (the send-time check would refuse them anyway); the consent
    history stays as the record of what was agreed, without the network it came from."""
    FollowUp.objects.filter(contact=contact, status=FollowUp.Status.ACTIVE).update(
        status=FollowUp.Status.STOPPED, stop_reason=NOT_SENT, stopped_at=now, next_due_at=None
    )
    contact.alerts.filter(ended_at__isnull=True).update(ended_at=now)
    contact.alerts.update(ip="")
    return contact.marketing_consents.update(ip="")


def _enquiries_erase(contact, now, files) -> int:
    enquiries = contact.enquiries.all()
    replies = EnquiryReply.objects.filter(enquiry__in=enquiries)
    files += [path for path in replies.values_list("sample_path", flat=True) if path]
    replies.filter(status=EnquiryReply.Status.PREPARING).update(
        status=EnquiryReply.Status.FAILED, last_error=NOT_SENT
    )
    replies.update(subject=ERASED, body=ERASED, sample_path="", purchase_url="")
    replies.filter(quoted_price__isnull=False, quote_revoked_at__isnull=True).update(
        quote_revoked_at=now
    )
    Enquiry.history.model.objects.filter(id__in=enquiries.values("pk")).update(staff_notes="")
    return enquiries.update(
        question=ERASED,
        staff_notes="",
        name="",
        company="",
        job_title="",
        country="",
        phone="",
        ip="",
        user_agent="",
        **dict.fromkeys(ATTRIBUTION_DETAIL_FIELDS, ""),
    )


def _orders_erase(contact, address, now, files) -> int:
    """Accounting keeps the order (reference, report, licence, amounts, dates, Stripe ids:
    the person's data at Stripe is erased in Stripe's dashboard); nothing names the buyer."""
    orders = contact.orders.all()
    deliverables = Deliverable.objects.filter(order__in=orders)
    files += list(deliverables.values_list("path", flat=True))
    deliverables.delete()
    DownloadLink.objects.filter(order__in=orders, revoked_at__isnull=True).update(
        revoked_at=now, revoke_reason=DownloadLink.RevokeReason.STAFF
    )
    DownloadLog.objects.filter(order__in=orders).update(ip="", user_agent="")
    # The colleagues the buyer named: their copies go, their names and addresses too.
    seats = Seat.objects.filter(order__in=orders)
    files += [path for path in seats.values_list("path", flat=True) if path]
    seats.update(name=ERASED, email=address, path="", released_at=now)
    # The buyer's account (sign-in links, My reports): the addresses it could stand for.
    buyers = {buyer_username(email) for email in orders.values_list("buyer_email", flat=True)}
    get_user_model().objects.filter(username__in=buyers | {buyer_username(contact.email)}).delete()
    return orders.update(
        buyer_email=address,
        buyer_name="",
        buyer_company="",
        buyer_vat_id="",
        tax_id_value="",  # a sole trader's VAT ID names them
        # Stripe's hosted invoice pages show the buyer's name and address to anyone with
        # the link; the invoice's id and number stay for the accounts.
        stripe_invoice_url="",
        stripe_invoice_pdf="",
        payment_method_description="",  # a bank's name, a card's last digits
        recovery_url="",  # opens a checkout with the buyer's email filled in
        landing_page="",
        referrer="",
    )


def _lead_erase(contact) -> int:
    """The lead score's reasons name the email domain and country, and staff's call notes
    may name anything: emptied; the calls stay as the record that calls were made."""
    LeadCall.objects.filter(lead__contact=contact).update(note="")
    return Lead.objects.filter(contact=contact).update(score=0, reasons=[], mx_flagged=False)


def _identifiers(contact: Contact) -> tuple[set[str], set[str]]:
    """The addresses and the names (person, company) the person's rows hold; values shorter
    than three characters would match too much to be replaced."""
    addresses, names = {contact.email}, {contact.name, contact.company}
    for email, name, company in contact.sample_requests.values_list("email", "name", "company"):
        addresses.add(email)
        names |= {name, company}
    names |= {value for row in contact.enquiries.values_list("name", "company") for value in row}
    for row in contact.orders.values_list("buyer_email", "buyer_name", "buyer_company"):
        addresses.add(row[0])
        names |= set(row[1:])
    return {a for a in addresses if len(a) >= 3}, {n for n in names if len(n) >= 3}


def _quoting_texts_erase(values: set[str]) -> int:
    """Replace the person's addresses and names wherever an error or a note quotes them."""
    if not values:
        return 0
    longest_first = sorted(values, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in longest_first), re.IGNORECASE)
    count = 0
    for model, field in QUOTING_TEXTS:
        quoting = Q()
        for value in values:
            quoting |= Q(**{f"{field}__icontains": value})
        for pk, text in model.objects.filter(quoting).values_list("pk", field):
            scrubbed = pattern.sub("[erased]", text)
            count += model.objects.filter(pk=pk).update(**{field: scrubbed})
    return count


def _stripe_payloads_erase(contact: Contact, addresses: set[str]) -> int:
    """The stored events of the person's orders, and any event that names one of their
    addresses without being matched to an order (a session that never became one, an
    event for an order since deleted): the payload holds their name and email."""
    naming = Q(order__in=contact.orders.all())
    for address in addresses:
        naming |= Q(payload_text__icontains=address)
    events = StripeEvent.objects.exclude(payload={}).annotate(
        payload_text=Cast("payload", TextField())
    )
    ids = list(events.filter(naming).values_list("pk", flat=True))
    return StripeEvent.objects.filter(pk__in=ids).update(payload={})

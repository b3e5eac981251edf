"""An enquiry's email thread: its own reply address and its threading headers.

Each enquiry has a Reply-To address of its own by plus-addressing on INBOUND_ADDRESS:
sales+e123.<signature>@publisher.example, where the signature is a short HMAC of the enquiry's
number under the site's secret key. A customer's answer to that address is filed in the
enquiry's thread (enquiries/services/inbound.py); a made-up or altered address does not
verify, so nobody can push messages into another customer's thread by guessing a number.

A sample follow-up (enquiries/services/followups.py) gets an address of the same kind,
sales+f45.<signature>@publisher.example (tag "f", its own signature), so a reply to a
follow-up email is recognised as one (`followup_address`, `tagged_address_parse`).

Threading headers (RFC 5322 section 3.6.4): each staff reply names the thread's latest message
in In-Reply-To and the thread's earlier Message-IDs in References, so the customer's mail client
shows one conversation, and a reply whose client dropped the plus-address (some do when
forwarding) is still matched by those headers."""

import re
from email.utils import formataddr

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils.crypto import constant_time_compare, salted_hmac

from common.text import CONTROL_CHARS
from contacts.models import OutboundEmail

from ..models import Enquiry, InboundEmail

_SALT = "enquiries.mail_thread.reply-address"
_SIGNATURE_LENGTH = 12  # hex digits: 48 bits, far beyond guessing through a mailbox
_TAG = re.compile(
    rf"^(?P<kind>[ef])(?P<pk>\d{{1,18}})\.(?P<signature>[0-9a-f]{{{_SIGNATURE_LENGTH}}})$"
)
ENQUIRY_TAG, FOLLOW_UP_TAG = "e", "f"
# RFC 5322 keeps the whole References header under about 998 characters per line in practice;
# the first message and the latest ones matter most (RFC 5322 section 3.6.4).
REFERENCES_KEPT = 12


def _signature(pk: int, kind: str = ENQUIRY_TAG) -> str:
    return salted_hmac(_SALT, f"{kind}{pk}", algorithm="sha256").hexdigest()[:_SIGNATURE_LENGTH]


def _inbound_parts() -> tuple[str, str]:
    local, _, domain = settings.INBOUND_ADDRESS.rpartition("@")
    return local, domain


def thread_address(enquiry: Enquiry) -> str:
    """sales+e123.<signature>@domain, or "" without INBOUND_ADDRESS."""
    return _tagged_address(ENQUIRY_TAG, enquiry.pk)


def followup_address(follow_up_id: int) -> str:
    """sales+f45.<signature>@domain for a sample follow-up, or "" without INBOUND_ADDRESS."""
    return _tagged_address(FOLLOW_UP_TAG, follow_up_id)


def _tagged_address(kind: str, pk: int) -> str:
    if not settings.INBOUND_ADDRESS:
        return ""
    local, domain = _inbound_parts()
    return f"{local}+{kind}{pk}.{_signature(pk, kind)}@{domain}"


def thread_reply_to(enquiry: Enquiry, *, name: str) -> str:
    """The Reply-To of an email in the enquiry's thread, shown with `name` (control
    characters stripped), or "" without INBOUND_ADDRESS."""
    address = thread_address(enquiry)
    if not address:
        return ""
    return formataddr((CONTROL_CHARS.sub("", name), address))


def thread_address_parse(address: str) -> tuple[int | None, bool]:
    """(enquiry id, signature valid) for a thread address on INBOUND_ADDRESS; (None, False)
    for any other address. Case-insensitive: some servers lower-case what they deliver."""
    kind, pk, valid = tagged_address_parse(address)
    return (pk, valid) if kind == ENQUIRY_TAG else (None, False)


def tagged_address_parse(address: str) -> tuple[str, int | None, bool]:
    """(tag, id, signature valid) for an enquiry's ("e") or a follow-up's ("f") address on
    INBOUND_ADDRESS; ("", None, False) for any other address."""
    if not settings.INBOUND_ADDRESS or address.count("@") != 1:
        return "", None, False
    local, domain = _inbound_parts()
    address_local, _, address_domain = address.lower().partition("@")
    base, plus, tag = address_local.partition("+")
    if not plus or base != local.lower() or address_domain != domain.lower():
        return "", None, False
    match = _TAG.match(tag)
    if match is None:
        return "", None, False
    kind, pk = match.group("kind"), int(match.group("pk"))
    return kind, pk, constant_time_compare(match.group("signature"), _signature(pk, kind))


def thread_message_ids(enquiry: Enquiry) -> list[str]:
    """The Message-IDs of the conversation with the customer, oldest first: the emails sent
    to them about the enquiry and their replies read from the inbound mailbox."""
    contact_email = enquiry.contact.email
    sent = OutboundEmail.objects.filter(
        related_type=ContentType.objects.get_for_model(Enquiry),
        related_id=str(enquiry.pk),
        to__iexact=contact_email,
    ).values_list("created_at", "message_id")
    received = InboundEmail.objects.filter(enquiry=enquiry).values_list("received_at", "message_id")
    return [message_id for _, message_id in sorted([*sent, *received])]


def thread_headers(enquiry: Enquiry) -> dict[str, str]:
    """In-Reply-To and References for the next email of the thread (empty for its first)."""
    ids = thread_message_ids(enquiry)
    if not ids:
        return {"in_reply_to": "", "references": ""}
    kept = ids if len(ids) <= REFERENCES_KEPT else [ids[0], *ids[-(REFERENCES_KEPT - 1) :]]
    return {"in_reply_to": ids[-1], "references": " ".join(kept)}

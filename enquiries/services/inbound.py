"""Customers' emails read from the inbound mailbox: each message is parsed, matched to its
enquiry, stored once and acted on, in one transaction per message.

- A reply to a thread address (enquiries/services/mail_thread.py) or naming one of the
  thread's Message-IDs in In-Reply-To/References is filed in that enquiry's thread, its quoted
  history and signature trimmed (mail-parser-reply), and the enquiry becomes "customer
  replied" (`enquiry_customer_reply_record`).
- A reply to a sample follow-up (its signed address, sales+f45.<signature>@…, or one of its
  emails' Message-IDs in In-Reply-To/References) from the follow-up's contact is filed as a
  "reply to a follow-up" on that sequence (`followup_reply_record`: a "replied" event, the
  sequence stopped for good, the sales inbox emailed). Staff may still file it in an
  enquiry's thread.
- A delivery status notification (RFC 3464: multipart/report; report-type=delivery-status)
  whose action is "failed" marks the email it returns bounced in the mail log.
- Anything else, and a reply whose sender is not the enquiry's contact (a forged or
  forwarded message), is held unmatched for staff to assign by hand (`inbound_email_assign`).

Hostile content stays inert: only text is stored (an HTML-only message is converted, its
scripts and styles dropped with their content), attachments go to the private storage within
INBOUND_MAX_ATTACHMENT_MB, and archives that would unpack to more (zip bombs), or hold
archives themselves, are refused with a log line. The Message-ID (or, without one, a digest of
the message) is unique, so reading a message twice stores it once. Reading the raw message
itself (headers, text, attachments, delivery reports): enquiries/services/inbound_parse.py."""

import io
import logging
import uuid
import zipfile

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.text import CONTROL_CHARS
from contacts.models import OutboundEmail
from contacts.services.outbox import email_bounced

from ..models import Enquiry, FollowUp, InboundEmail
from .enquiries import enquiry_customer_reply_record
from .followups import TEMPLATE as FOLLOW_UP_TEMPLATE
from .followups import followup_reply_record
from .inbound_parse import (
    FULL_TEXT_LIMIT,
    MESSAGE_ID_LIMIT,
    Attachment,
    ParsedMessage,
    header_text,
    headers_only,
    message_id_of,
    message_parse,
    reply_text_trim,
    sender,
)
from .mail_thread import FOLLOW_UP_TAG, tagged_address_parse, thread_address_parse

logger = logging.getLogger(__name__)
Status = InboundEmail.Status
MatchedBy = InboundEmail.MatchedBy

BODY_TEXT_LIMIT = 20_000
NO_MATCH = "No thread address or Message-ID of ours."
# An archive that would unpack to this many times its size is a zip bomb, whatever its total.
ARCHIVE_MAX_RATIO = 100
ARCHIVE_SUFFIXES = (".zip", ".jar", ".docx", ".xlsx", ".pptx", ".odt", ".ods")
NESTED_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz", ".tar")


# --- Entry points -----------------------------------------------------------------------------


def inbound_message_process(*, raw: bytes) -> InboundEmail:
    """Read one raw message and store it (once); returns its row. Raises only for what a
    retry could fix (the database); the mailbox poll records anything else as unreadable."""
    parsed = message_parse(raw)
    saved_paths: list[str] = []
    try:
        with transaction.atomic():
            existing = InboundEmail.objects.filter(message_id=parsed.message_id).first()
            if existing is not None:
                logger.info("inbound message %s already stored", existing.pk)
                return existing
            return _store(parsed, saved_paths)
    except IntegrityError:
        _files_discard(saved_paths)
        # A concurrent poll stored the same Message-ID first.
        existing = InboundEmail.objects.filter(message_id=parsed.message_id).first()
        if existing is None:
            raise
        return existing
    except BaseException:
        _files_discard(saved_paths)
        raise


def inbound_message_refuse(*, raw_headers: bytes, size: int, reason: str) -> InboundEmail:
    """A message not downloaded (too big): recorded from its headers as refused, once."""
    headers = headers_only(raw_headers)
    message_id = message_id_of(headers, raw_headers)
    logger.warning("inbound message refused (%s bytes): %s", size, reason)
    return _record_plain(headers, message_id=message_id, size=size, problem=reason)


def inbound_message_unreadable(*, raw: bytes, error: str) -> InboundEmail:
    """A message the parser or the rules could not handle: held for staff with the error
    (the full text as far as it can be decoded), once."""
    headers = headers_only(raw)
    message_id = message_id_of(headers, raw)
    raw_text = raw[:FULL_TEXT_LIMIT].decode("utf-8", "replace")
    return _record_plain(
        headers,
        message_id=message_id,
        size=len(raw),
        problem=f"Could not be read: {error}"[:500],
        status=Status.UNMATCHED,
        # PostgreSQL text holds no NUL: control characters go, line breaks and tabs stay.
        full_text=CONTROL_CHARS.sub(lambda m: m.group(0) if m.group(0) in "\n\t" else "", raw_text),
    )


@transaction.atomic
def inbound_email_assign(*, inbound: InboundEmail, enquiry: Enquiry, actor) -> InboundEmail:
    """Staff file an unmatched message (or a reply to a follow-up) in an enquiry's thread: it
    counts as the customer's reply (the enquiry reopens and its owner is told). A message
    already in a thread, a bounce or a refused message stays where it is."""
    inbound = InboundEmail.objects.select_for_update().get(pk=inbound.pk)
    if inbound.status not in (Status.UNMATCHED, Status.FOLLOW_UP):
        return inbound
    inbound.enquiry = enquiry
    inbound.status = Status.MATCHED
    inbound.matched_by = MatchedBy.STAFF
    inbound.assigned_by = actor
    inbound.assigned_at = timezone.now()
    inbound.save(update_fields=["enquiry", "status", "matched_by", "assigned_by", "assigned_at"])
    enquiry_customer_reply_record(enquiry=enquiry, inbound=inbound)
    return inbound


# --- Storing ----------------------------------------------------------------------------------


def _store(parsed: ParsedMessage, saved_paths: list[str]) -> InboundEmail:
    if parsed.report is not None:
        return _bounce_store(parsed)
    enquiry, matched_by, problem = _match(parsed)
    follow_up = None
    if enquiry is None and problem == NO_MATCH:
        follow_up, matched_by, problem = _match_follow_up(parsed)
    kept, refused = _attachments_keep(parsed.attachments, saved_paths)
    status = Status.MATCHED if enquiry else Status.FOLLOW_UP if follow_up else Status.UNMATCHED
    inbound = InboundEmail.objects.create(
        **_common_fields(parsed),
        status=status,
        enquiry=enquiry,
        follow_up=follow_up,
        matched_by=matched_by,
        problem=problem[:500],
        body_text=reply_text_trim(parsed.full_text)[:BODY_TEXT_LIMIT],
        full_text=parsed.full_text[:FULL_TEXT_LIMIT],
        converted_from_html=parsed.converted_from_html,
        automatic=parsed.automatic,
        attachments=kept,
        refused_attachments=refused,
    )
    if enquiry is not None:
        enquiry_customer_reply_record(enquiry=enquiry, inbound=inbound)
    elif follow_up is not None:
        followup_reply_record(follow_up=follow_up, inbound=inbound)
    logger.info(
        "inbound message %s: %s%s", inbound.pk, inbound.status, f" ({problem})" if problem else ""
    )
    return inbound


def _common_fields(parsed: ParsedMessage) -> dict:
    return {
        "message_id": parsed.message_id,
        "from_address": parsed.from_address[:254],
        "from_name": parsed.from_name[:200],
        "to_addresses": ", ".join(parsed.recipients)[:5000],
        "subject": parsed.subject[:300],
        "in_reply_to": parsed.in_reply_to[:MESSAGE_ID_LIMIT],
        "references": " ".join(parsed.references)[:10_000],
        "sent_at": parsed.sent_at,
        "size": parsed.size,
    }


def _bounce_store(parsed: ParsedMessage) -> InboundEmail:
    """A delivery report: the original email (found by the Message-ID the report quotes)
    is marked bounced when delivery failed for good; delays and successes are only kept."""
    report = parsed.report
    original = (
        OutboundEmail.objects.filter(message_id=report.original_message_id).first()
        if report.original_message_id
        else None
    )
    failed = report.action == "failed"
    problem = "" if original else "The report names no email of ours."
    if original is not None and failed:
        reason = " ".join(part for part in (report.status, report.diagnostic) if part)
        email_bounced(email=original, reason=reason or "delivery failed")
        logger.info("email %s bounced: %s", original.pk, report.status)
    return InboundEmail.objects.create(
        **_common_fields(parsed),
        status=Status.BOUNCE,
        problem=problem or f"Delivery report: {report.action} {report.status}".strip(),
        bounced_email=original if failed else None,
        full_text=parsed.full_text[:FULL_TEXT_LIMIT],
        body_text=(report.diagnostic or report.action)[:BODY_TEXT_LIMIT],
    )


def _record_plain(headers, *, message_id, size, problem, status=Status.REFUSED, full_text=""):
    from_name, from_address = sender(headers)
    fields = {
        "status": status,
        "problem": problem[:500],
        "from_address": from_address[:254],
        "from_name": from_name[:200],
        "subject": header_text(headers, "Subject")[:300],
        "size": size,
        "full_text": full_text,
    }
    try:
        with transaction.atomic():
            inbound, _ = InboundEmail.objects.get_or_create(message_id=message_id, defaults=fields)
    except IntegrityError:
        inbound = InboundEmail.objects.get(message_id=message_id)
    return inbound


# --- Matching ---------------------------------------------------------------------------------


def _match(parsed: ParsedMessage) -> tuple[Enquiry | None, str, str]:
    """(enquiry, how, problem): by a thread address among the recipients, else by the
    thread's Message-IDs in In-Reply-To/References; held (no enquiry) when the sender is not
    the enquiry's contact or an address's signature does not verify."""
    enquiry, matched_by, problem = _match_by_address(parsed.recipients)
    if enquiry is None and not problem:
        enquiry = _match_by_headers([parsed.in_reply_to, *parsed.references])
        matched_by = MatchedBy.HEADERS if enquiry else ""
    if enquiry is None:
        return None, "", problem or NO_MATCH
    contact_email = enquiry.contact.email.lower()
    if parsed.from_address.lower() != contact_email:
        return (
            None,
            "",
            f"Looks like a reply on {enquiry.reference}, but the sender is not its contact: "
            "held for review.",
        )
    return enquiry, matched_by, ""


def _match_by_address(recipients: list[str]) -> tuple[Enquiry | None, str, str]:
    forged = False
    for address in recipients:
        pk, valid = thread_address_parse(address)
        if pk is None:
            continue
        enquiry = Enquiry.objects.select_related("contact").filter(pk=pk).first() if valid else None
        if enquiry is not None:
            return enquiry, MatchedBy.ADDRESS, ""
        forged = forged or not valid
    if forged:
        return None, "", "A thread address whose signature does not verify (made up or altered)."
    return None, "", ""


def _match_by_headers(message_ids: list[str]) -> Enquiry | None:
    ids = [message_id for message_id in message_ids if message_id][:50]
    if not ids:
        return None
    enquiry_type = ContentType.objects.get_for_model(Enquiry)
    sent = (
        OutboundEmail.objects.filter(message_id__in=ids, related_type=enquiry_type)
        .order_by("-created_at")
        .values_list("related_id", flat=True)
        .first()
    )
    if sent is not None and sent.isdigit():
        return Enquiry.objects.select_related("contact").filter(pk=int(sent)).first()
    received = (
        InboundEmail.objects.filter(message_id__in=ids, enquiry__isnull=False)
        .order_by("-received_at")
        .values_list("enquiry_id", flat=True)
        .first()
    )
    if received is not None:
        return Enquiry.objects.select_related("contact").filter(pk=received).first()
    return None


def _match_follow_up(parsed: ParsedMessage) -> tuple[FollowUp | None, str, str]:
    """As `_match`, for a reply to a sample follow-up: by the sequence's address, else by its
    emails' Message-IDs; held (naming the follow-up) when the sender is not its contact."""
    follow_up, matched_by, problem = _follow_up_by_address(parsed.recipients)
    if follow_up is None and not problem:
        follow_up = _follow_up_by_headers([parsed.in_reply_to, *parsed.references])
        matched_by = MatchedBy.HEADERS if follow_up else ""
    if follow_up is None:
        return None, "", problem or NO_MATCH
    if parsed.from_address.lower() != (follow_up.contact.email or "").lower():
        return (
            None,
            "",
            f"Looks like a reply to follow-up {follow_up.pk} (the sample of "
            f"{follow_up.sample_request.report.title}), but the sender is not its contact: "
            "held for review.",
        )
    return follow_up, matched_by, ""


def _follow_ups():
    return FollowUp.objects.select_related("contact", "sample_request__report")


def _follow_up_by_address(recipients: list[str]) -> tuple[FollowUp | None, str, str]:
    forged = False
    for address in recipients:
        kind, pk, valid = tagged_address_parse(address)
        if kind != FOLLOW_UP_TAG:
            continue
        follow_up = _follow_ups().filter(pk=pk).first() if valid else None
        if follow_up is not None:
            return follow_up, MatchedBy.ADDRESS, ""
        forged = forged or not valid
    if forged:
        return None, "", "A follow-up address whose signature does not verify (made up or altered)."
    return None, "", ""


def _follow_up_by_headers(message_ids: list[str]) -> FollowUp | None:
    ids = [message_id for message_id in message_ids if message_id][:50]
    if not ids:
        return None
    sent = (
        OutboundEmail.objects.filter(
            message_id__in=ids,
            template=FOLLOW_UP_TEMPLATE,
            related_type=ContentType.objects.get_for_model(FollowUp),
        )
        .order_by("-created_at")
        .values_list("related_id", flat=True)
        .first()
    )
    if sent is not None and sent.isdigit():
        return _follow_ups().filter(pk=int(sent)).first()
    return None


# --- Attachments ------------------------------------------------------------------------------


def _attachments_keep(attachments: list[Attachment], saved_paths: list[str]):
    """Save the acceptable ones privately; (kept, refused) as lists for the JSON fields."""
    kept, refused = [], []
    limit = settings.INBOUND_MAX_ATTACHMENT_MB * 1024 * 1024
    folder = f"inbound/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"
    for attachment in attachments:
        problem = attachment_problem(attachment, limit=limit)
        if problem:
            logger.warning("inbound attachment %r refused: %s", attachment.name, problem)
            refused.append({"name": attachment.name, "reason": problem})
            continue
        path = storages["private"].save(f"{folder}/{attachment.name}", ContentFile(attachment.data))
        saved_paths.append(path)
        kept.append(
            {
                "name": attachment.name,
                "content_type": attachment.content_type,
                "size": len(attachment.data),
                "path": path,
            }
        )
    return kept, refused


def attachment_problem(attachment: Attachment, *, limit: int) -> str:
    """Why an attachment is not kept ("" when it is): over the size limit, or an archive
    that would unpack to more than the limit (or to more than ARCHIVE_MAX_RATIO times its
    size), that holds archives itself, or that cannot be read. Archives are only inspected,
    never unpacked."""
    size = len(attachment.data)
    if size > limit:
        return f"{size} bytes, over the {settings.INBOUND_MAX_ATTACHMENT_MB} MB limit"
    is_zip = attachment.name.lower().endswith(ARCHIVE_SUFFIXES) or "zip" in attachment.content_type
    if not is_zip:
        return ""
    try:
        with zipfile.ZipFile(io.BytesIO(attachment.data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return "not a readable zip archive"
    unpacked = sum(member.file_size for member in members)
    if unpacked > limit or unpacked > ARCHIVE_MAX_RATIO * max(size, 1):
        return f"an archive that would unpack to {unpacked} bytes (a zip bomb)"
    if any(member.filename.lower().endswith(NESTED_ARCHIVE_SUFFIXES) for member in members):
        return "an archive holding archives"
    return ""


def _files_discard(paths: list[str]) -> None:
    for path in paths:
        try:
            storages["private"].delete(path)
        except Exception:  # noqa: BLE001 - best effort: the transaction that named it is gone
            logger.warning("could not delete %s after a failed inbound message", path)

"""Customers' emails read from the inbound mailbox: each message is parsed, matched to its
enquiry, stored once and acted on, in one transaction per message.

- A reply to a thread address (enquiries/services/mail_thread.py) or naming one of the
  thread's Message-IDs in In-Reply-To/References is filed in that enquiry's thread, its quoted
  history and signature trimmed (mail-parser-reply), and the enquiry becomes "customer
  replied" (`enquiry_customer_reply_record`).
- A delivery status notification (RFC 3464: multipart/report; report-type=delivery-status)
  whose action is "failed" marks the email it returns bounced in the mail log.
- Anything else, and a reply whose sender is not the enquiry's contact (a forged or
  forwarded message), is held unmatched for staff to assign by hand (`inbound_email_assign`).

Hostile content stays inert: only text is stored (an HTML-only message is converted, its
scripts and styles dropped with their content), attachments go to the private storage within
INBOUND_MAX_ATTACHMENT_MB, and archives that would unpack to more (zip bombs), or hold
archives themselves, are refused with a log line. The Message-ID (or, without one, a digest of
the message) is unique, so reading a message twice stores it once."""

import hashlib
import html
import io
import logging
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import PurePath

import nh3
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from mailparser_reply import EmailReplyParser

from common.text import CONTROL_CHARS
from contacts.models import OutboundEmail
from contacts.services.outbox import email_bounced

from ..models import Enquiry, InboundEmail
from .enquiries import enquiry_customer_reply_record
from .mail_thread import thread_address_parse

logger = logging.getLogger(__name__)
Status = InboundEmail.Status
MatchedBy = InboundEmail.MatchedBy

# Languages whose "On … wrote:" lines and signatures the trimming recognises.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
BODY_TEXT_LIMIT = 20_000
FULL_TEXT_LIMIT = 100_000
MESSAGE_ID_LIMIT = 998
# An archive that would unpack to this many times its size is a zip bomb, whatever its total.
ARCHIVE_MAX_RATIO = 100
ARCHIVE_SUFFIXES = (".zip", ".jar", ".docx", ".xlsx", ".pptx", ".odt", ".ods")
NESTED_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz", ".tar")
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,990}>")


@dataclass
class DeliveryReport:
    action: str
    status: str
    diagnostic: str
    original_message_id: str


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class ParsedMessage:
    message_id: str
    from_address: str
    from_name: str
    recipients: list[str]
    subject: str
    in_reply_to: str
    references: list[str]
    sent_at: datetime | None
    full_text: str
    converted_from_html: bool
    automatic: bool
    attachments: list[Attachment] = field(default_factory=list)
    report: DeliveryReport | None = None
    size: int = 0


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
    headers = HeaderParser(policy=policy.default).parsestr(
        raw_headers.decode("utf-8", "replace"), headersonly=True
    )
    message_id = _message_id(headers, raw_headers)
    logger.warning("inbound message refused (%s bytes): %s", size, reason)
    return _record_plain(headers, message_id=message_id, size=size, problem=reason)


def inbound_message_unreadable(*, raw: bytes, error: str) -> InboundEmail:
    """A message the parser or the rules could not handle: held for staff with the error
    (the full text as far as it can be decoded), once."""
    headers = _headers_only(raw)
    message_id = _message_id(headers, raw)
    return _record_plain(
        headers,
        message_id=message_id,
        size=len(raw),
        problem=f"Could not be read: {error}"[:500],
        status=Status.UNMATCHED,
        full_text=raw[:FULL_TEXT_LIMIT].decode("utf-8", "replace"),
    )


@transaction.atomic
def inbound_email_assign(*, inbound: InboundEmail, enquiry: Enquiry, actor) -> InboundEmail:
    """Staff file an unmatched message in an enquiry's thread: it counts as the customer's
    reply (the enquiry reopens and its owner is told). A message already in a thread, a
    bounce or a refused message stays where it is."""
    inbound = InboundEmail.objects.select_for_update().get(pk=inbound.pk)
    if inbound.status != Status.UNMATCHED:
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
    kept, refused = _attachments_keep(parsed.attachments, saved_paths)
    inbound = InboundEmail.objects.create(
        **_common_fields(parsed),
        status=Status.MATCHED if enquiry else Status.UNMATCHED,
        enquiry=enquiry,
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
    from_name, from_address = _from(headers)
    fields = {
        "status": status,
        "problem": problem[:500],
        "from_address": from_address[:254],
        "from_name": from_name[:200],
        "subject": _header_text(headers, "Subject")[:300],
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
        return None, "", problem or "No thread address or Message-ID of ours."
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


# --- Parsing ----------------------------------------------------------------------------------


def message_parse(raw: bytes) -> ParsedMessage:
    """The parts of a raw RFC 5322 message this feature uses. Malformed headers become empty
    values (the standard library records defects instead of raising)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    from_name, from_address = _from(message)
    body_part = message.get_body(preferencelist=("plain", "html"))
    text, converted = _body_text(body_part)
    return ParsedMessage(
        message_id=_message_id(message, raw),
        from_address=from_address,
        from_name=from_name,
        recipients=_recipients(message),
        subject=_header_text(message, "Subject"),
        in_reply_to=next(iter(_message_ids(message, "In-Reply-To")), ""),
        references=_message_ids(message, "References"),
        sent_at=_date(message),
        full_text=text,
        converted_from_html=converted,
        automatic=_is_automatic(message),
        attachments=_attachments(message, body_part),
        report=delivery_report(message),
        size=len(raw),
    )


def _header_text(message, name: str) -> str:
    try:
        value = message.get(name, "")
    except (ValueError, TypeError, IndexError, AttributeError):
        return ""
    return " ".join(CONTROL_CHARS.sub(" ", str(value or "")).split())


def _from(message) -> tuple[str, str]:
    name, address = parseaddr(_header_text(message, "From"))
    return name, address if address.count("@") == 1 else ""


def _recipients(message) -> list[str]:
    values = [_header_text(message, name) for name in RECIPIENT_HEADERS]
    return [address for _, address in getaddresses([v for v in values if v]) if "@" in address][
        :100
    ]


def _message_ids(message, name: str) -> list[str]:
    return _MESSAGE_ID.findall(_header_text(message, name))[:100]


def _message_id(message, raw: bytes) -> str:
    """The message's own Message-ID, or a stable stand-in (a digest of the message) for one
    without: reading it twice still finds the first copy."""
    found = _message_ids(message, "Message-ID")
    if found:
        return found[0][:MESSAGE_ID_LIMIT]
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound.invalid>"


def _date(message) -> datetime | None:
    try:
        moment = parsedate_to_datetime(_header_text(message, "Date"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else timezone.make_aware(moment, timezone.utc)


def _is_automatic(message) -> bool:
    """An auto-reply (RFC 3834 Auto-Submitted, or the common Precedence/X-Autoreply marks)."""
    auto = _header_text(message, "Auto-Submitted").lower()
    precedence = _header_text(message, "Precedence").lower()
    return (
        (auto not in ("", "no"))
        or precedence in ("auto_reply", "bulk", "junk")
        or bool(_header_text(message, "X-Autoreply"))
    )


def _part_text(part) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, TypeError, UnicodeError):
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True) or b""
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _body_text(part) -> tuple[str, bool]:
    if part is None:
        return "", False
    text = _part_text(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text), True
    return CONTROL_CHARS.sub(lambda m: m.group(0) if m.group(0) in "\n\t" else "", text), False


_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|table)\s*>")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body: scripts, styles and the head dropped with their content,
    every tag removed (nh3, the Ammonia sanitiser), entities decoded, block ends as line
    breaks."""
    cleaned = nh3.clean(
        _BLOCK_END.sub("\n", markup),
        tags=set(),
        clean_content_tags={"script", "style", "head", "title", "template", "noscript"},
        attributes={},
        strip_comments=True,
    )
    text = html.unescape(cleaned).replace("\r\n", "\n")
    text = CONTROL_CHARS.sub(lambda m: m.group(0) if m.group(0) in "\n\t" else "", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def reply_text_trim(text: str) -> str:
    """The new part of a reply: quoted history ("On … wrote:" and what follows) and the
    signature removed (mail-parser-reply). The whole text when nothing else is left."""
    if not text.strip():
        return ""
    try:
        parsed = EmailReplyParser(languages=REPLY_LANGUAGES).read(text[:FULL_TEXT_LIMIT])
        trimmed = parsed.replies[0].body if parsed.replies else ""
    except Exception:  # noqa: BLE001 - a parser bug must not lose the message: keep it whole
        logger.exception("could not trim a reply's quoted history")
        trimmed = ""
    return (trimmed or text).strip()


def _attachments(message: EmailMessage, body_part) -> list[Attachment]:
    found = []
    for part in message.walk():
        if part.is_multipart() or part is body_part:
            continue
        if part.get_content_type() in ("message/delivery-status", "text/rfc822-headers"):
            continue
        name = _part_filename(part)
        if part.get_content_disposition() != "attachment" and not name:
            continue  # an alternative body or inline text, not a file
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found.append(Attachment(name or "attachment", part.get_content_type(), payload))
    return found[:50]


def _part_filename(part) -> str:
    try:
        name = part.get_filename() or ""
    except (ValueError, TypeError, IndexError, LookupError):
        name = ""
    name = get_valid_filename(PurePath(name.replace("\\", "/")).name) if name.strip() else ""
    return name[:120]


def delivery_report(message) -> DeliveryReport | None:
    """An RFC 3464 delivery status notification's outcome and the Message-ID of the email
    it is about (from the returned message or its headers), or None for other messages."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    action, status, diagnostic, original = "", "", "", ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            action, status, diagnostic = _status_fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and not original:
            original = _returned_message_id(part)
    return DeliveryReport(action or "failed", status, diagnostic[:1000], original)


def _status_fields(part) -> tuple[str, str, str]:
    """Action, Status and Diagnostic-Code of the first recipient block."""
    blocks = part.get_payload()
    if isinstance(blocks, str):
        blocks = [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", blocks)]
    for block in blocks if isinstance(blocks, list) else []:
        action = _header_text(block, "Action").lower()
        if action:
            return action, _header_text(block, "Status"), _header_text(block, "Diagnostic-Code")
    return "", "", ""


def _returned_message_id(part) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        returned = payload[0]
    else:
        returned = HeaderParser().parsestr(_part_text(part), headersonly=True)
    found = _message_ids(returned, "Message-ID")
    return found[0] if found else ""


def _headers_only(raw: bytes):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return HeaderParser(policy=policy.default).parsestr(
        head.decode("utf-8", "replace"), headersonly=True
    )

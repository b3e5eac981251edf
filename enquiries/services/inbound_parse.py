"""Reading a raw RFC 5322 message for the inbound mailbox (enquiries/services/inbound.py):
sender, recipients, threading headers, the text (an HTML-only body converted to plain text
with nh3, the reply's quoted history and signature trimmed with mail-parser-reply), the
attachments and, for a delivery status notification (RFC 3464), its outcome. Nothing here
raises for a malformed message: the standard library records defects, and a header that
cannot be read is empty."""

import hashlib
import html
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import PurePath

import nh3
from django.utils import timezone
from django.utils.text import get_valid_filename
from mailparser_reply import EmailReplyParser

from common.text import CONTROL_CHARS

logger = logging.getLogger(__name__)

# Languages whose "On … wrote:" lines and signatures the trimming recognises.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
FULL_TEXT_LIMIT = 100_000
MESSAGE_ID_LIMIT = 998
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


def message_parse(raw: bytes) -> ParsedMessage:
    """The parts of a raw RFC 5322 message this feature uses. Malformed headers become empty
    values (the standard library records defects instead of raising)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    from_name, from_address = sender(message)
    body_part = message.get_body(preferencelist=("plain", "html"))
    text, converted = _body_text(body_part)
    return ParsedMessage(
        message_id=message_id_of(message, raw),
        from_address=from_address,
        from_name=from_name,
        recipients=_recipients(message),
        subject=header_text(message, "Subject"),
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


def header_text(message, name: str) -> str:
    try:
        value = message.get(name, "")
    except (ValueError, TypeError, IndexError, AttributeError):
        return ""
    return " ".join(CONTROL_CHARS.sub(" ", str(value or "")).split())


def sender(message) -> tuple[str, str]:
    name, address = parseaddr(header_text(message, "From"))
    return name, address if address.count("@") == 1 else ""


def _recipients(message) -> list[str]:
    values = [header_text(message, name) for name in RECIPIENT_HEADERS]
    return [address for _, address in getaddresses([v for v in values if v]) if "@" in address][
        :100
    ]


def _message_ids(message, name: str) -> list[str]:
    return _MESSAGE_ID.findall(header_text(message, name))[:100]


def message_id_of(message, raw: bytes) -> str:
    """The message's own Message-ID, or a stable stand-in (a digest of the message) for one
    without: reading it twice still finds the first copy."""
    found = _message_ids(message, "Message-ID")
    if found:
        return found[0][:MESSAGE_ID_LIMIT]
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound.invalid>"


def _date(message) -> datetime | None:
    try:
        moment = parsedate_to_datetime(header_text(message, "Date"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else timezone.make_aware(moment, timezone.utc)


def _is_automatic(message) -> bool:
    """An auto-reply (RFC 3834 Auto-Submitted, or the common Precedence/X-Autoreply marks)."""
    auto = header_text(message, "Auto-Submitted").lower()
    precedence = header_text(message, "Precedence").lower()
    return (
        (auto not in ("", "no"))
        or precedence in ("auto_reply", "bulk", "junk")
        or bool(header_text(message, "X-Autoreply"))
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
            original = _returnedmessage_id_of(part)
    return DeliveryReport(action or "failed", status, diagnostic[:1000], original)


def _status_fields(part) -> tuple[str, str, str]:
    """Action, Status and Diagnostic-Code of the first recipient block."""
    blocks = part.get_payload()
    if isinstance(blocks, str):
        blocks = [HeaderParser().parsestr(block) for block in re.split(r"\r?\n\r?\n", blocks)]
    for block in blocks if isinstance(blocks, list) else []:
        action = header_text(block, "Action").lower()
        if action:
            return action, header_text(block, "Status"), header_text(block, "Diagnostic-Code")
    return "", "", ""


def _returnedmessage_id_of(part) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        returned = payload[0]
    else:
        returned = HeaderParser().parsestr(_part_text(part), headersonly=True)
    found = _message_ids(returned, "Message-ID")
    return found[0] if found else ""


def headers_only(raw: bytes):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return HeaderParser(policy=policy.default).parsestr(
        head.decode("utf-8", "replace"), headersonly=True
    )

"""Reading the inbound mailbox (INBOUND_IMAP_URL) over IMAP: Celery beat calls
`inbound_mailbox_poll` every INBOUND_POLL_INTERVAL_SECONDS (enquiries/tasks.py).

Not a job kind of common/jobs.py on purpose: a poll has no row of ours to own, and a lost tick
loses nothing, because the mailbox itself holds the intent. A message stays unseen until it is
stored in its own committed transaction; only then is it flagged \\Seen (and moved to
INBOUND_PROCESSED_FOLDER when set). A crash between the two reads it again next time, and its
unique Message-ID makes the second reading a no-op. A message over INBOUND_MAX_MESSAGE_MB is
not downloaded: it is recorded as refused from its headers. One that cannot be parsed or
matched is held for staff with the error. Only the database failing stops a poll (with the
message left unseen for the next one).

IMAPS with the system's certificate authorities; plain imap:// is refused by the settings
except on loopback. Every socket operation is bounded by INBOUND_IMAP_TIMEOUT_SECONDS."""

import contextlib
import logging
import ssl
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError
from imap_tools import MailBox, MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from .inbound import inbound_message_process, inbound_message_refuse, inbound_message_unreadable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailboxAddress:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str


def mailbox_address(url: str) -> MailboxAddress:
    parts = urlsplit(url)
    secure = parts.scheme == "imaps"
    return MailboxAddress(
        secure=secure,
        host=parts.hostname or "",
        port=parts.port or (993 if secure else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


@contextlib.contextmanager
def mailbox_open(url: str):
    address = mailbox_address(url)
    timeout = settings.INBOUND_IMAP_TIMEOUT_SECONDS
    if address.secure:
        box = MailBox(
            address.host, address.port, timeout=timeout, ssl_context=ssl.create_default_context()
        )
    else:
        box = MailBoxUnencrypted(address.host, address.port, timeout=timeout)
    try:
        box.login(address.user, address.password, initial_folder=address.folder)
    except BaseException:
        with contextlib.suppress(Exception):
            box.client.shutdown()
        raise
    try:
        yield box
    finally:
        with contextlib.suppress(Exception):  # the server may have gone: nothing to release
            box.logout()


def inbound_mailbox_poll() -> dict[str, int]:
    """Read the unseen messages (INBOUND_MAX_MESSAGES_PER_POLL at most) into the site.
    Returns how many ended how ({"matched": 1, "bounce": 1, …}); a mailbox that cannot be
    reached is logged and tried again at the next poll."""
    if not settings.INBOUND_IMAP_URL:
        return {}
    outcomes: Counter[str] = Counter()
    try:
        with mailbox_open(settings.INBOUND_IMAP_URL) as box:
            uids = box.uids("UNSEEN")[: settings.INBOUND_MAX_MESSAGES_PER_POLL]
            for uid in uids:
                outcomes[_message_read(box, uid)] += 1
    except MailboxLoginError:
        logger.error("inbound mailbox: the server refused the login (INBOUND_IMAP_URL)")
        outcomes["login refused"] += 1
    except (OSError, ssl.SSLError, EOFError) as exc:
        # imaplib's errors derive from Exception, not OSError: caught below with the rest of
        # the protocol's failures.
        logger.warning("inbound mailbox unreachable: %s: %s", type(exc).__name__, exc)
        outcomes["unreachable"] += 1
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - an IMAP protocol error: the next poll retries
        logger.warning("inbound mailbox poll stopped: %s: %s", type(exc).__name__, exc)
        outcomes["imap error"] += 1
    if outcomes:
        logger.info("inbound mailbox poll: %s", dict(outcomes))
    return dict(outcomes)


def _message_read(box, uid: str) -> str:
    """Store one message (its own transaction), then flag it seen / move it."""
    size, headers = _size_and_headers(box, uid)
    limit = settings.INBOUND_MAX_MESSAGE_MB * 1024 * 1024
    if size > limit:
        reason = f"Not downloaded: {size} bytes, over INBOUND_MAX_MESSAGE_MB"
        outcome = inbound_message_refuse(raw_headers=headers, size=size, reason=reason).status
    else:
        outcome = _message_store(_fetch(box, uid, "BODY.PEEK[]"))
    _done(box, uid)
    return outcome


def _message_store(raw: bytes) -> str:
    try:
        return inbound_message_process(raw=raw).status
    except DatabaseError:
        raise  # left unseen: the next poll reads it again
    except Exception as exc:  # noqa: BLE001 - a message the rules can't handle: kept for staff
        logger.exception("inbound message could not be read; held for staff")
        error = f"{type(exc).__name__}: {exc}"[:300]
        inbound_message_unreadable(raw=raw, error=error)
        return "unreadable"


def _size_and_headers(box, uid: str) -> tuple[int, bytes]:
    status, data = box.client.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[HEADER])")
    if status != "OK" or not data or not isinstance(data[0], tuple):
        raise RuntimeError(f"FETCH of message {uid} failed: {status}")
    described, headers = data[0]
    size = int(described.decode().split("RFC822.SIZE", 1)[1].split()[0].strip("()"))
    return size, headers


def _fetch(box, uid: str, item: str) -> bytes:
    status, data = box.client.uid("FETCH", uid, f"({item})")
    if status != "OK" or not data or not isinstance(data[0], tuple):
        raise RuntimeError(f"FETCH of message {uid} failed: {status}")
    return data[0][1]


def _done(box, uid: str) -> None:
    box.client.uid("STORE", uid, "+FLAGS", r"(\Seen)")
    if settings.INBOUND_PROCESSED_FOLDER:
        box.move([uid], settings.INBOUND_PROCESSED_FOLDER)

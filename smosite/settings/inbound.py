"""Settings of the inbound mailbox: customers' replies read into their enquiry's thread
(enquiries/services/inbound.py). Imported at the end of base.py, whose `.env` is read by then.
README, "Customers' replies: the inbound mailbox", explains the set-up for a real provider."""

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# The address customers' replies go to, e.g. sales@publisher.example. Each staff reply gets a
# Reply-To of its own thread by plus-addressing on it (sales+e123.<signature>@publisher.example),
# so the mailbox must accept plus-addresses (Gmail and Microsoft 365 do). Empty: replies go to
# the staff member's own address, as before.
INBOUND_ADDRESS = env.str("INBOUND_ADDRESS", default="").strip()
if INBOUND_ADDRESS and (INBOUND_ADDRESS.count("@") != 1 or "+" in INBOUND_ADDRESS):
    raise ImproperlyConfigured("INBOUND_ADDRESS is one address like sales@example.com (no '+').")
# The mailbox that address delivers to: imaps://user:password@imap.example.com:993/INBOX (TLS;
# the password URL-encoded). imap:// (no TLS) is accepted for a server on loopback only (tests,
# a local Dovecot). Empty: the mailbox is not read.
INBOUND_IMAP_URL = env.str("INBOUND_IMAP_URL", default="")
if INBOUND_IMAP_URL:
    _parts = urlsplit(INBOUND_IMAP_URL)
    if _parts.scheme not in ("imaps", "imap") or not _parts.hostname:
        raise ImproperlyConfigured("INBOUND_IMAP_URL is imaps://user:password@host:993/INBOX")
    if _parts.scheme == "imap" and _parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ImproperlyConfigured("INBOUND_IMAP_URL: plain imap:// only on loopback; use imaps://")
# Seconds one IMAP connection or command may wait for the server before the poll gives up
# (the next poll tries again).
INBOUND_IMAP_TIMEOUT_SECONDS = env.float("INBOUND_IMAP_TIMEOUT_SECONDS", default=30)
# How often Celery beat reads the mailbox.
INBOUND_POLL_INTERVAL_SECONDS = env.int("INBOUND_POLL_INTERVAL_SECONDS", default=60)
# Messages read per poll at most (the rest wait for the next poll).
INBOUND_MAX_MESSAGES_PER_POLL = env.int("INBOUND_MAX_MESSAGES_PER_POLL", default=100)
# A message bigger than this is not downloaded: it is recorded as refused (with its sender and
# subject) and logged.
INBOUND_MAX_MESSAGE_MB = env.int("INBOUND_MAX_MESSAGE_MB", default=30)
# Attachments kept (in the private storage) up to this size each; a bigger one, or an archive
# that would unpack to more (a zip bomb), is refused with a log line and listed on the message.
INBOUND_MAX_ATTACHMENT_MB = env.int("INBOUND_MAX_ATTACHMENT_MB", default=10)
# After a message is stored it is marked seen; with a folder name here (e.g. "Processed", which
# must exist) it is also moved there, so the inbox holds only what is still to be read.
INBOUND_PROCESSED_FOLDER = env.str("INBOUND_PROCESSED_FOLDER", default="")

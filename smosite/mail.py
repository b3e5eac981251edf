"""Mail backends: the development mailbox (each outbound message becomes one .eml file; used
when EMAIL_URL is unset) and SMTP with a connection kept open per worker process."""

import contextlib
import email.generator
import email.policy
import io
import os
import select
import smtplib
import threading
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils import timezone


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *, directory, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory)

    def send_messages(self, email_messages):
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(message.message().as_bytes(policy=email.policy.SMTP))
        return len(email_messages)


class KeptOpenSMTPBackend(SMTPBackend):
    """SMTP with the connection kept open between messages by each process (and thread).

    A new connection per message costs the TCP (and TLS) handshake, EHLO and AUTH: with a
    burst of sample emails that is most of the SMTP time. A kept connection is used again
    while it has been idle less than `keep_open_seconds` and has carried fewer than
    `max_messages`; one idle for more than a second is asked NOOP first, and one the server
    has closed (its socket reads as ready: a 421 or EOF) is dropped. A dropped or failed
    connection is replaced by a new one before anything is sent on it, so a message is never
    sent twice by this class; an error while sending is raised as before (the mail log
    records it and retries with backoff), and the connection is discarded."""

    PROBE_AFTER_IDLE_SECONDS = 1.0
    _kept = threading.local()

    def __init__(self, *, keep_open_seconds: int = 30, max_messages: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.keep_open_seconds = keep_open_seconds
        self.max_messages = max_messages

    def send_messages(self, email_messages):
        if not email_messages or self.keep_open_seconds <= 0:
            return super().send_messages(email_messages)
        with self._lock:
            self.connection = self._take_kept() or self._open_new()
            sent = 0
            try:
                for message in email_messages:
                    sent += bool(self._send(message))
            except BaseException:
                self.close()  # in an unknown state: never used again
                raise
            self._keep(sent)
            self.connection = None
        return sent

    def _send(self, email_message):
        """Django's `_send`, serialising with `_Generator` (same bytes, written at once)."""
        if not email_message.recipients():
            return False
        from_email = self.prep_address(email_message.from_email)
        recipients = [self.prep_address(addr) for addr in email_message.recipients()]
        message = email_message.message(policy=email.policy.SMTP)
        out = io.BytesIO()
        _Generator(out, mangle_from_=False, policy=message.policy).flatten(message)
        try:
            self.connection.sendmail(from_email, recipients, out.getvalue())
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True

    def _key(self) -> tuple:
        return (os.getpid(), self.host, self.port, self.username, self.use_tls, self.use_ssl)

    def _take_kept(self):
        kept = getattr(self._kept, "entry", None)
        self._kept.entry = None
        if kept is None:
            return None
        key, connection, last_used, count = kept
        idle = time.monotonic() - last_used
        if key[0] != os.getpid():  # inherited through fork: the parent's socket, not ours
            return None
        usable = (
            key == self._key()
            and idle < self.keep_open_seconds
            and count < self.max_messages
            and not _closed_by_server(connection)
            and (idle < self.PROBE_AFTER_IDLE_SECONDS or _answers_noop(connection))
        )
        if not usable:
            self._close_connection_quietly(connection)
            return None
        self._kept_count = count
        return connection

    def _open_new(self):
        self._kept_count = 0
        self.connection = None
        self.open()
        return self.connection

    def _keep(self, sent: int) -> None:
        entry = (self._key(), self.connection, time.monotonic(), self._kept_count + sent)
        self._kept.entry = entry

    def _close_connection_quietly(self, connection) -> None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(OSError):
                connection.close()


def _closed_by_server(connection) -> bool:
    """A kept connection's socket has something to read only if the server spoke first:
    a 421 before closing an idle connection, or EOF."""
    sock = getattr(connection, "sock", None)
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _answers_noop(connection) -> bool:
    try:
        return connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


class _Generator(email.generator.BytesGenerator):
    """The standard generator, writing a part's body in one piece rather than a line at a
    time: a PDF attachment is thousands of base64 lines, and splitting and writing them one
    by one took a third of the time of turning a sample email into bytes."""

    def _write_lines(self, lines):
        # The standard loop splits on \r\n, \r or \n and writes each line followed by the
        # line separator, then the last piece if it is not empty: the same as replacing
        # each separator in place.
        if lines:
            self.write(lines.replace("\r\n", "\n").replace("\r", "\n").replace("\n", self._NL))

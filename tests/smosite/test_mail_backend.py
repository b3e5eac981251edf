"""The development mailbox used by `make run` when EMAIL_URL is unset, and SMTP with one
connection kept open per process (real aiosmtpd servers on loopback)."""

import email
import email.message
import email.policy

import pytest
from django.core.mail import EmailMultiAlternatives

from smosite.mail import EmlFileBackend, KeptOpenSMTPBackend


def test_each_message_is_written_as_an_eml_file_a_mail_client_can_read(tmp_path):
    backend = EmlFileBackend(directory=tmp_path / "mail", alias="default")
    message = EmailMultiAlternatives(
        subject="Your sample",
        body="Plain body",
        from_email="reports@localhost",
        to=["jane@acme-pharma.example"],
    )
    message.attach_alternative("<p>HTML body</p>", "text/html")
    message.attach("sample.pdf", b"%PDF-1.7 test", "application/pdf")

    assert backend.send_messages([message, message]) == 2

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Your sample"
    assert parsed.get_body(preferencelist=("plain",)).get_content().strip() == "Plain body"
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["sample.pdf"]


def test_the_smtp_backend_writes_the_same_bytes_as_the_standard_generator():
    """`_Generator` writes each body in one piece; what it writes must not differ, whatever
    the line endings in a body (CRLF, lone CR, LF, blank lines, none at the end)."""
    import io
    import os

    from smosite.mail import _Generator

    message = EmailMultiAlternatives(
        subject="Your sample: Clinical Trials Site Management Organizations Market, 2025–2032",
        body="Dear Zoë,\r\nline two\rline three\n\nfrom here\n.\nlast line without end",
        from_email="Reliable Research IQ <reports@localhost>",
        to=["Jöhn Smith <john@acme-pharma.example>"],
    )
    message.attach_alternative("<p>Dear Zoë,</p>\r\n<p>two</p>\n", "text/html")
    message.attach("sample.pdf", os.urandom(150_000), "application/pdf")
    message.attach("notes.txt", "a\r\nb\rc\n\nd", "text/plain")
    built = message.message(policy=email.policy.SMTP)
    standard = built.as_bytes()  # fixes the boundaries for both
    out = io.BytesIO()
    _Generator(out, mangle_from_=False, policy=built.policy).flatten(built)
    assert out.getvalue() == standard
    # Django normalises its bodies' line endings; a raw payload shows the generator's own
    # handling of each kind.
    raw = email.message.EmailMessage(policy=email.policy.SMTP)
    raw["Subject"] = "raw"
    raw.set_payload("a\r\nb\rc\n\nd\r\r\ne")
    out = io.BytesIO()
    _Generator(out, mangle_from_=False, policy=raw.policy).flatten(raw)
    assert out.getvalue() == raw.as_bytes()
    assert out.getvalue().endswith(b"\r\n\r\na\r\nb\r\nc\r\n\r\nd\r\n\r\ne")


# --- SMTP with a connection kept open per process ---------------------------------------


class Peers:
    """aiosmtpd handler: which client connection (its source port) carried each message."""

    def __init__(self, *, fail_next: int = 0):
        self.peers: list[tuple] = []
        self.fail_next = fail_next

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        self.peers.append(session.peer)
        return "250 OK"


@pytest.fixture
def smtp_peers():
    from aiosmtpd.controller import Controller

    from tests.support.smtp import free_port

    handler = Peers()
    port = free_port()
    controllers = [Controller(handler, hostname="127.0.0.1", port=port)]
    controllers[0].start()

    def restart():
        controllers[-1].stop()
        controllers.append(Controller(handler, hostname="127.0.0.1", port=port))
        controllers[-1].start()

    handler.port, handler.restart = port, restart
    KeptOpenSMTPBackend._kept.entry = None
    yield handler
    KeptOpenSMTPBackend._kept.entry = None
    controllers[-1].stop()


def send_one(port: int, n: int = 0, **options) -> int:
    """As the mail log sends: a new backend object for each message."""
    backend = KeptOpenSMTPBackend(host="127.0.0.1", port=port, alias="default", **options)
    message = EmailMultiAlternatives(
        subject=f"Message {n}", body="Body", from_email="reports@localhost", to=["a@b.example"]
    )
    return backend.send_messages([message])


def test_messages_in_a_row_share_one_connection(smtp_peers):
    assert [send_one(smtp_peers.port, n) for n in range(5)] == [1] * 5
    assert len(smtp_peers.peers) == 5 and len(set(smtp_peers.peers)) == 1


def test_a_connection_the_server_dropped_is_replaced_before_sending(smtp_peers):
    send_one(smtp_peers.port, 1)
    smtp_peers.restart()  # the server goes away and comes back: the kept socket is dead
    assert send_one(smtp_peers.port, 2) == 1
    assert send_one(smtp_peers.port, 3) == 1
    assert len(smtp_peers.peers) == 3 and len(set(smtp_peers.peers)) == 2
    assert smtp_peers.peers[1] == smtp_peers.peers[2]  # the new one is kept in turn


def test_a_connection_idle_past_the_limit_is_closed_and_replaced(smtp_peers):
    send_one(smtp_peers.port, 1, keep_open_seconds=30)
    key, connection, last_used, count = KeptOpenSMTPBackend._kept.entry
    KeptOpenSMTPBackend._kept.entry = (key, connection, last_used - 31, count)
    send_one(smtp_peers.port, 2, keep_open_seconds=30)
    assert len(set(smtp_peers.peers)) == 2 and connection.sock is None  # QUIT was sent


def test_a_connection_carries_at_most_max_messages(smtp_peers):
    for n in range(5):
        send_one(smtp_peers.port, n, max_messages=2)
    assert len(smtp_peers.peers) == 5 and len(set(smtp_peers.peers)) == 3


def test_a_refused_message_raises_and_the_next_one_gets_a_new_connection(smtp_peers):
    import smtplib

    send_one(smtp_peers.port, 1)
    smtp_peers.fail_next = 1
    with pytest.raises(smtplib.SMTPDataError):
        send_one(smtp_peers.port, 2)
    assert send_one(smtp_peers.port, 3) == 1
    assert len(smtp_peers.peers) == 2 and smtp_peers.peers[0] != smtp_peers.peers[1]


def test_keep_open_zero_is_one_connection_per_message(smtp_peers):
    for n in range(3):
        send_one(smtp_peers.port, n, keep_open_seconds=0)
    assert len(set(smtp_peers.peers)) == 3 and KeptOpenSMTPBackend._kept.entry is None


def test_smtp_urls_configure_the_kept_open_backend(monkeypatch):
    from smosite.settings import base

    monkeypatch.setenv("EMAIL_KEEP_OPEN_SECONDS", "12")
    mailer = base.mailers_from_url("smtp://127.0.0.1:2525", timeout=5)["default"]
    assert mailer["BACKEND"] == "smosite.mail.KeptOpenSMTPBackend"
    assert mailer["OPTIONS"]["keep_open_seconds"] == 12

"""The development mailbox used by `make run` when EMAIL_URL is unset."""

import email
import email.policy

from django.core.mail import EmailMultiAlternatives

from smosite.mail import EmlFileBackend


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

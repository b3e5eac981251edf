"""Two defects a buyer saw in our emails: "Pfizer Example Inc.." when a company name ends
with a full stop, and a doubled space where a long subject was folded before an encoded
word (the non-ASCII part)."""

import pytest
from django.template import engines

from contacts.models import OutboundEmail
from contacts.services.outbox import JOB
from tests.support.jobs import run_job

SUBJECTS = [
    "Your sample: Clinical Trials Site Management Organizations Market, 2025–2032",
    "New sample lead: Zoë Ünal, Pfizer Example Inc. — 1780960 (free-mail)",
    "Receipt for order R-7KQ2M4: Clinical Trials Site Management Organizations Market, "
    "2025–2032 — Enterprise licence for Établissements Exemple",
    "Your sample: Oncology Market",
]


@pytest.mark.django_db
@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_long_subject_arrives_exactly_as_written(subject, mailbox, settings, smtp_server):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }
    email = OutboundEmail.objects.create(
        to="reader@acme-pharma.example",
        from_email="x@localhost",
        subject=subject,
        template="t",
        body_text="Body",
        message_id=OutboundEmail.new_message_id(),
    )
    assert run_job(JOB, email.pk) == "done"
    (received,) = mailbox.messages
    assert received["Subject"] == subject
    raw = received.as_bytes()
    assert all(len(line) <= 78 for line in raw.split(b"\n\n")[0].splitlines())


@pytest.mark.parametrize("company", ["Pfizer Example Inc.", "Pfizer Example Inc. ", "Acme"])
@pytest.mark.parametrize("engine", ["django", "text"])
def test_a_company_name_closes_its_sentence_with_one_full_stop(company, engine):
    template = engines[engine].from_string(
        "{% load sentences %}Prepared for you at {{ company|full_stop }} Kind regards."
    )
    written = template.render({"company": company})
    assert written == f"Prepared for you at {company.strip().rstrip('.')}. Kind regards."
    assert ".." not in written


def test_full_stop_leaves_a_question_or_exclamation_and_escapes_html():
    template = engines["django"].from_string("{% load sentences %}{{ name|full_stop }}")
    assert template.render({"name": "Yahoo!"}) == "Yahoo!"
    assert template.render({"name": "<b>A&B</b>"}) == "&lt;b&gt;A&amp;B&lt;/b&gt;."

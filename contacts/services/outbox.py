"""The mail log and outbox. Every outbound email goes through `email_queue` (write the row and
its "mail.send" job in the caller's transaction; sent by a worker after commit) and
`email_send` (the job's handler: send, then record the outcome).

The lead or order an email belongs to learns how it ended in the same transaction that
records it: a service registers an outcome handler for its template
(`email_outcome_register`), called with the email when it is sent or has failed for good.

Marketing email (a `purpose` set) is queued through contacts/services/marketing.py, which
registers the send-time guard (`email_guard_register`): whether the person may still receive
it, and the List-Unsubscribe headers it carries."""

import email.policy
import logging
import re
from collections.abc import Callable
from email.header import Header

import css_inline
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import TemplateDoesNotExist, engines
from django.template.loader import render_to_string
from django.utils import timezone

from common import jobs
from contacts.models import Contact, OutboundEmail

logger = logging.getLogger(__name__)
JOB = "mail.send"
Status = OutboundEmail.Status
_outcome_handlers: dict[str, Callable[[OutboundEmail], None]] = {}
_secret_fillers: dict[str, Callable[[OutboundEmail], dict[str, str]]] = {}
# For emails with a purpose: (why it may not be sent, or "") and the extra headers.
_guard: Callable[[OutboundEmail], tuple[str, dict[str, str]]] | None = None


def email_guard_register(guard: Callable[[OutboundEmail], tuple[str, dict[str, str]]]) -> None:
    """`guard(email)` runs for every email with a `purpose` just before it is sent: a
    non-empty reason suppresses it (never sent, whatever queue it sat in); the headers are
    added to the message."""
    global _guard
    _guard = guard


def email_outcome_register(*, template: str, handler: Callable[[OutboundEmail], None]) -> None:
    """`handler(email)` runs when an email of `template` is sent or failed for good, inside
    the transaction that records it (so the owner's status and the email's move together)."""
    _outcome_handlers[template] = handler


def email_secrets_register(
    *, template: str, fill: Callable[[OutboundEmail], dict[str, str]]
) -> None:
    """For emails that carry a secret (a buyer's download link): the mail log stores the
    body with it masked, and `fill(email)` returns {masked text: real text} when the email
    is sent, so the database and its backups never hold the secret. `fill` may raise
    `jobs.GiveUp` when the secret can't be built any more."""
    _secret_fillers[template] = fill


def publisher_context() -> dict[str, str]:
    """Who sends every email: the site, and the seller's legal details for the footer that
    templates/email/base.html and email/footer.txt (the text twin's) print."""
    names = ("SITE_URL", "PUBLISHER_NAME", "PUBLISHER_LEGAL_NAME", "PUBLISHER_ADDRESS")
    names += ("PUBLISHER_VAT_NUMBER", "PUBLISHER_PHONE")
    return {name: getattr(settings, name) for name in names}


def html_inline_css(html: str) -> str:
    """The HTML with its stylesheet moved into style attributes (css-inline), as mail
    clients that drop <style> (Gmail's apps, Outlook) need. Done at send time, so the mail log
    keeps the short template output; remote stylesheets are never fetched.
    https://github.com/Stranger6667/css-inline"""
    return _inliner.inline(html) if html else html


_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def _render(template: str, context: dict) -> tuple[str, str, str]:
    """<template>_subject.txt and <template>.txt (rendered without HTML escaping) are
    required; <template>.html (escaped) is optional."""
    ctx = {**publisher_context(), **context}
    text_engine = engines["text"]
    subject = " ".join(text_engine.get_template(f"{template}_subject.txt").render(ctx).split())
    text = text_engine.get_template(f"{template}.txt").render(ctx)
    try:
        html = render_to_string(f"{template}.html", ctx)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


def email_queue(
    *,
    to: str,
    template: str,
    context: dict,
    related=None,
    contact: Contact | None = None,
    reply_to: str = "",
    attachment_path: str = "",
    attachment_name: str = "",
    dedupe_key: str | None = None,
    send_here: bool = False,
    in_reply_to: str = "",
    references: str = "",
    purpose: str = "",
) -> OutboundEmail:
    """Record an email and its send job in the caller's transaction; a worker sends it after
    commit.

    With a `dedupe_key`, a second call for the same key returns the first row and sends
    nothing: a webhook delivered five times still produces one receipt.

    `send_here` (for code already running in a worker): after commit, send it in this
    process instead of through the mail queue, saving a queue hop. A failed attempt is
    retried by the mail worker as usual.

    `in_reply_to` and `references` (Message-IDs, space-separated) thread the email under
    earlier ones in the recipient's mail client, and are kept on the row."""
    if dedupe_key:
        existing = OutboundEmail.objects.filter(dedupe_key=dedupe_key).first()
        if existing:
            return existing
    subject, text, html = _render(template, context)
    email = OutboundEmail(
        to=to,
        reply_to=reply_to,
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=subject,
        template=template,
        body_text=text,
        body_html=html,
        attachment_path=attachment_path,
        attachment_name=attachment_name,
        contact=contact,
        dedupe_key=dedupe_key,
        message_id=OutboundEmail.new_message_id(),
        in_reply_to=in_reply_to,
        references=references,
        purpose=purpose,
    )
    if related is not None:
        email.related_type = ContentType.objects.get_for_model(related)
        email.related_id = str(related.pk)
    try:
        with transaction.atomic():
            email.save()
            jobs.enqueue(JOB, target_id=email.pk, run_here=send_here, new_target=True)
    except IntegrityError:
        if dedupe_key:  # lost a race with a concurrent call for the same key
            return OutboundEmail.objects.get(dedupe_key=dedupe_key)
        raise
    return email


def _secrets_filled(email: OutboundEmail) -> tuple[str, str]:
    """The bodies as sent: with the secrets the stored copy masks filled in."""
    text, html = email.body_text, email.body_html
    fill = _secret_fillers.get(email.template)
    for masked, real in (fill(email) if fill else {}).items():
        text, html = text.replace(masked, real), html.replace(masked, real)
    return text, html


class _Subject(str):
    """A Subject header that folds without a doubled space. Python's folder (3.12's
    email._header_value_parser) breaks a long subject before an encoded word and leaves the
    space at the end of the first line, so a reader unfolds "Market,  2025–2032" (two
    spaces). A subject that needs encoding is written as RFC 2047 encoded words by the email
    package's Header instead: adjacent encoded words join without the folding space."""

    name = "Subject"
    defects = ()

    def fold(self, *, policy) -> str:
        if self.isascii() or getattr(policy, "utf8", False):
            return policy.header_factory(self.name, str(self)).fold(policy=policy)
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(
            linesep=policy.linesep, maxlinelen=policy.max_line_length or 78
        )
        return f"{self.name}: {encoded}{policy.linesep}"


class _Message(EmailMultiAlternatives):
    def message(self, *, policy=email.policy.default):
        message = super().message(policy=policy)
        message.replace_header("Subject", _Subject(self.subject))
        return message


def _build_message(
    email: OutboundEmail, extra_headers: dict[str, str] | None = None
) -> EmailMultiAlternatives:
    text, html = _secrets_filled(email)
    headers = {"Message-ID": email.message_id}
    if email.in_reply_to:
        headers["In-Reply-To"] = email.in_reply_to
    if email.references:
        headers["References"] = email.references
    message = _Message(
        subject=email.subject,
        body=text,
        from_email=email.from_email,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={**headers, **(extra_headers or {})},
    )
    if html:
        message.attach_alternative(html_inline_css(html), "text/html")
    if email.attachment_path:
        from django.core.files.storage import storages

        with storages["private"].open(email.attachment_path, "rb") as handle:
            message.attach(
                email.attachment_name or "attachment.pdf", handle.read(), "application/pdf"
            )
    return message


def email_send(*, work: jobs.JobRun) -> None:
    """The "mail.send" job: send the email, then mark it sent and tell its owner in one
    transaction. The job's claim means no other worker sends it at the same time; an email
    no longer queued (sent, or failed and not re-sent) is left alone."""
    email = OutboundEmail.objects.get(pk=work.target_id)
    if email.status != Status.QUEUED:
        return
    reason, headers = _guard(email) if email.purpose and _guard else ("", {})
    if reason:
        _suppress(email, reason, work)
        return
    try:
        _build_message(email, headers).send()
    except jobs.GiveUp:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded (without the address) and retried
        # SMTP refusals quote the recipient ("{'maria@…': (550, …)}"): the job's and the
        # email's error never hold it. `from None`: the log's traceback would quote it too.
        error = recipients_hide(f"{type(exc).__name__}: {exc}", email=email)
        raise jobs.Failure(error) from None
    with work.completing():
        email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
        email.status = Status.SENT
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "last_error", "updated_at"])
        _outcome(email)


def _suppress(email: OutboundEmail, reason: str, work: jobs.JobRun) -> None:
    """Not sent, for good: the person may no longer receive this marketing email."""
    with work.completing():
        email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
        if email.status != Status.QUEUED:
            return
        email.status = Status.SUPPRESSED
        email.last_error = reason
        email.save(update_fields=["status", "last_error", "updated_at"])
        _outcome(email)


RECIPIENT = "<recipient>"


def recipients_hide(text: str, *, email: OutboundEmail) -> str:
    """`text` with the email's addresses replaced by a placeholder (any case)."""
    for address in {email.to, email.reply_to} - {""}:
        text = re.sub(re.escape(address), RECIPIENT, text, flags=re.IGNORECASE)
    return text


def email_give_up(email_id: int, error: str) -> None:
    """The job's last attempt failed: the email is failed, and so is what it carried."""
    email = OutboundEmail.objects.select_for_update().get(pk=email_id)
    email.status = Status.FAILED
    email.last_error = error
    email.save(update_fields=["status", "last_error", "updated_at"])
    _outcome(email)


def _outcome(email: OutboundEmail) -> None:
    handler = _outcome_handlers.get(email.template)
    if handler is not None:
        handler(email)


@transaction.atomic
def email_bounced(*, email: OutboundEmail, reason: str) -> OutboundEmail:
    """A delivery status notification said the email could not be delivered: the mail log
    shows it bounced, with the report's reason. Recording the same bounce again changes
    nothing."""
    email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
    if email.status == Status.BOUNCED:
        return email
    email.status = Status.BOUNCED
    email.bounced_at = timezone.now()
    email.last_error = recipients_hide(f"Bounced: {reason}", email=email)[:4000]
    email.save(update_fields=["status", "bounced_at", "last_error", "updated_at"])
    return email


@transaction.atomic
def email_resend(*, email: OutboundEmail) -> bool:
    """Staff action: send a failed (or sent) email again, with a fresh attempt budget.
    Returns False for an email being sent or waiting for a retry right now (a second send
    could double it), and for one whose text was removed."""
    email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
    job = jobs.job_for(JOB, email.pk)
    if job is not None and job.state in job.ACTIVE:
        return False
    if email.body_removed_at:
        return False  # its text is gone (retention or erasure): nothing left to send
    email.status = Status.QUEUED
    email.last_error = ""
    email.save(update_fields=["status", "last_error", "updated_at"])
    jobs.enqueue(JOB, target_id=email.pk, restart=True)
    return True

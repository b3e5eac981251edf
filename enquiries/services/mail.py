"""The mail log and outbox. Every outbound email goes through `email_queue` (write the row, send
after commit) and `email_deliver` (the worker's side: claim, send, record)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import TemplateDoesNotExist, engines
from django.template.loader import render_to_string
from django.utils import timezone

from ..models import Contact, OutboundEmail
from ..signals import email_delivery_finished

logger = logging.getLogger(__name__)


def _render(template: str, context: dict) -> tuple[str, str, str]:
    """<template>_subject.txt and <template>.txt (rendered without HTML escaping) are
    required; <template>.html (escaped) is optional."""
    ctx = {"SITE_URL": settings.SITE_URL, "PUBLISHER_NAME": settings.PUBLISHER_NAME, **context}
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
) -> OutboundEmail:
    """Record an email and send it once the surrounding transaction commits.

    With a `dedupe_key`, a second call for the same key returns the first row and sends
    nothing: a webhook delivered five times still produces one receipt.

    `send_here` (for code already running in a worker): after commit, send it in this
    process instead of through a `mail_deliver` task, saving a queue hop. A failed attempt
    is retried by the task as usual; if this process dies first, the row is still queued
    and the sweeper sends it."""
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
    )
    if related is not None:
        email.related_type = ContentType.objects.get_for_model(related)
        email.related_id = str(related.pk)
    try:
        with transaction.atomic():
            email.save()
    except IntegrityError:
        if dedupe_key:  # lost a race with a concurrent call for the same key
            return OutboundEmail.objects.get(dedupe_key=dedupe_key)
        raise
    if send_here:
        # robust: an error here is logged; the queued row is left for the sweeper
        transaction.on_commit(lambda: email_deliver_now(email_id=email.pk), robust=True)
    else:
        email_dispatch(email=email)
    return email


def email_deliver_now(*, email_id: int) -> OutboundEmail:
    """One delivery attempt here and now; a retry, if one is due, goes to the mail worker
    with its backoff (what the `mail_deliver` task runs)."""
    email = email_deliver(email_id=email_id)
    if email.status == OutboundEmail.Status.RETRYING:
        delay = max(1, int((email.next_attempt_at - email.updated_at).total_seconds()))
        email_dispatch(email=email, countdown=delay)
    return email


def email_dispatch(*, email: OutboundEmail, countdown: int = 0) -> None:
    """Hand the email to the mail worker after commit. If the broker is unreachable the row
    stays queued and the sweeper (`email_dispatch_stale`) sends it later."""
    from ..tasks import mail_deliver

    def send():
        try:
            mail_deliver.apply_async(args=[email.pk], countdown=countdown, retry=False)
        except Exception:  # noqa: BLE001 - broker down: the outbox row is the durable intent
            logger.warning("broker unavailable; email %s left for the sweeper", email.pk)

    transaction.on_commit(send)


def _build_message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={"Message-ID": email.message_id},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    if email.attachment_path:
        from django.core.files.storage import storages

        with storages["private"].open(email.attachment_path, "rb") as handle:
            message.attach(
                email.attachment_name or "attachment.pdf", handle.read(), "application/pdf"
            )
    return message


def email_deliver(*, email_id: int) -> OutboundEmail:
    """Send one email at most once per claim. The row is claimed under a lock (status
    "sending"), so two workers handed the same message cannot both send it. On failure the
    row goes back to "retrying" with a backoff, or "failed" after MAIL_MAX_ATTEMPTS."""
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().get(pk=email_id)
        if email.status in (OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED):
            return email
        if email.status == OutboundEmail.Status.SENDING and not _claim_expired(email):
            return email
        email.status = OutboundEmail.Status.SENDING
        email.attempts += 1
        email.save(update_fields=["status", "attempts", "updated_at"])
    try:
        _build_message(email).send()
    except Exception as exc:  # noqa: BLE001 - any SMTP/storage error is recorded on the row
        return _record_failure(email, exc)
    email.status = OutboundEmail.Status.SENT
    email.sent_at = timezone.now()
    email.last_error = ""
    email.next_attempt_at = None
    email.save(update_fields=["status", "sent_at", "last_error", "next_attempt_at", "updated_at"])
    _announce_outcome(email)
    return email


def _announce_outcome(email: OutboundEmail) -> None:
    """Tell whoever owns the email (a sample request, an order) how it ended. A receiver's
    error is logged, never raised: the email's own state is already recorded."""
    for receiver, result in email_delivery_finished.send_robust(sender=OutboundEmail, email=email):
        if isinstance(result, Exception):
            logger.error("email %s outcome receiver %s failed: %r", email.pk, receiver, result)


def _claim_expired(email: OutboundEmail) -> bool:
    stale = timezone.now() - timedelta(seconds=settings.MAIL_STALE_AFTER_SECONDS)
    return email.updated_at < stale


def _record_failure(email: OutboundEmail, exc: Exception) -> OutboundEmail:
    email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if email.attempts >= settings.MAIL_MAX_ATTEMPTS:
        email.status = OutboundEmail.Status.FAILED
        email.next_attempt_at = None
    else:
        delay = settings.MAIL_RETRY_BACKOFF_SECONDS * 2 ** (email.attempts - 1)
        email.status = OutboundEmail.Status.RETRYING
        email.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    email.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
    logger.warning("email %s attempt %s failed: %s", email.pk, email.attempts, email.last_error)
    if email.status == OutboundEmail.Status.FAILED:
        _announce_outcome(email)
    return email


@transaction.atomic
def email_resend(*, email: OutboundEmail) -> OutboundEmail:
    """Staff action: queue a failed (or sent) email again, with a fresh attempt budget. An
    email a worker is sending right now is left alone (the lock waits for its claim to be
    recorded), so a re-send can't race the send into a duplicate."""
    email = OutboundEmail.objects.select_for_update().get(pk=email.pk)
    if email.status == OutboundEmail.Status.SENDING and not _claim_expired(email):
        return email
    email.status = OutboundEmail.Status.QUEUED
    email.attempts = 0
    email.next_attempt_at = None
    email.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    email_dispatch(email=email)
    return email


def email_dispatch_stale() -> int:
    """The sweeper: dispatch queued rows the broker never got, retries that are due, and
    claims abandoned by a killed worker. Returns how many were dispatched."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MAIL_STALE_AFTER_SECONDS)
    status = OutboundEmail.Status
    due = (
        OutboundEmail.objects.filter(status=status.QUEUED, created_at__lt=stale)
        | OutboundEmail.objects.filter(status=status.RETRYING, next_attempt_at__lte=now)
        | OutboundEmail.objects.filter(status=status.SENDING, updated_at__lt=stale)
    )
    ids = list(due.values_list("pk", flat=True)[:500])
    for pk in ids:
        email_dispatch(email=OutboundEmail(pk=pk))
    return len(ids)

"""Thin tasks: arguments are primary keys; the body calls a service."""

from celery import shared_task

from .services import mail


@shared_task(acks_late=True)
def mail_deliver(email_id: int) -> None:
    email = mail.email_deliver(email_id=email_id)
    if email.status == email.Status.RETRYING:
        delay = max(1, int((email.next_attempt_at - email.updated_at).total_seconds()))
        mail.email_dispatch(email=email, countdown=delay)


@shared_task
def mail_dispatch_stale() -> int:
    return mail.email_dispatch_stale()

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


# --- Pre-order enquiries (issue 5) --------------------------------------------------------


@shared_task(acks_late=True)
def enquiry_reply_prepare(reply_id: int) -> None:
    """Stamp the sample a reply attaches, then queue the reply's email."""
    from .services import enquiries

    reply = enquiries.enquiry_reply_prepare(reply_id=reply_id)
    if reply.status == reply.Status.PREPARING and reply.next_attempt_at:
        delay = max(1, int((reply.next_attempt_at - reply.updated_at).total_seconds()))
        enquiries.enquiry_reply_dispatch(reply=reply, countdown=delay)


@shared_task(acks_late=True)
def enquiries_notify_report_published(report_id: int) -> int:
    from reports.models import Report

    from .services import enquiries

    return enquiries.enquiries_notify_report_published(report=Report.objects.get(pk=report_id))


@shared_task
def enquiries_sweep() -> int:
    """Beat: replies the broker never got or whose retry is due, and enquirers of newly
    published reports not told yet."""
    from .services import enquiries

    return enquiries.enquiry_replies_dispatch_stale() + enquiries.enquiries_notify_published_sweep()

"""Thin tasks: arguments are primary keys; the body calls a service."""

import logging

from celery import shared_task

from .models import SampleRequest
from .services import mail, samples

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def mail_deliver(email_id: int) -> None:
    mail.email_deliver_now(email_id=email_id)


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


# --- Sample requests ----------------------------------------------------------------------
# Not routed to the "pdf" queue on purpose: stamping takes a fraction of a second, and a
# visitor waiting for a sample must not queue behind full-report renders.


@shared_task(acks_late=True)
def sample_request_prepare(sample_request_id: int) -> None:
    """Stamp the sample and queue its email; on failure try again later with backoff."""
    sample_request = SampleRequest.objects.filter(pk=sample_request_id).first()
    if sample_request is None:
        return
    try:
        if samples.sample_request_prepare(sample_request=sample_request):
            return
        error = ""  # the base sample is still rendering
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried with backoff
        logger.exception("stamping sample request %s failed", sample_request_id)
        error = f"{type(exc).__name__}: {exc}"
    samples.sample_request_retry_later(sample_request=sample_request, error=error)


@shared_task
def sample_request_dispatch_stale() -> int:
    return samples.sample_request_dispatch_stale()

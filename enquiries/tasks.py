"""Scheduled work of the sales desk (Celery beat; thin: the services do the work).
Background jobs run through common/tasks.py; the inbound mailbox is read by a beat task of
its own (why: enquiries/services/inbound_mailbox.py)."""

from celery import shared_task

from .services import followups
from .services.inbound_mailbox import inbound_mailbox_poll as _poll


@shared_task(name="enquiries.tasks.inbound_mailbox_poll")
def inbound_mailbox_poll() -> dict[str, int]:
    """Beat: read customers' replies and delivery reports from INBOUND_IMAP_URL."""
    return _poll()


@shared_task(name="enquiries.tasks.followups_send_due")
def followups_send_due() -> int:
    """Beat: send the sample follow-up steps that are due (enquiries/services/followups.py)."""
    return followups.followups_send_due()

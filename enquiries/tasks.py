"""Scheduled work of the sales desk (Celery beat). Background jobs run through
common/tasks.py; the inbound mailbox is read by a beat task of its own (why:
enquiries/services/inbound_mailbox.py)."""

from celery import shared_task

from .services.inbound_mailbox import inbound_mailbox_poll as _poll


@shared_task(name="enquiries.tasks.inbound_mailbox_poll")
def inbound_mailbox_poll() -> dict[str, int]:
    """Beat: read customers' replies and delivery reports from INBOUND_IMAP_URL."""
    return _poll()

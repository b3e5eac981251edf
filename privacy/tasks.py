"""Scheduled work for leads (Celery beat). Background jobs run through common/tasks.py."""

from celery import shared_task

from .services import personal_data_purge


@shared_task(name="enquiries.tasks.privacy_purge")
def privacy_purge() -> dict:
    """Beat: delete personal data past its retention settings."""
    return personal_data_purge()

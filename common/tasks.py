"""Housekeeping tasks of the site as a whole (routed to the "default" queue)."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="common.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Beat: Django's `clearsessions` (expired rows of the database session store).
    https://docs.djangoproject.com/en/stable/topics/http/sessions/#clearing-the-session-store"""
    call_command("clearsessions")

"""Scheduled work for orders and downloads (Celery beat). Background jobs run through
common/tasks.py."""

from celery import shared_task
from django.conf import settings

from .services import downloads, fulfilment, reconcile


@shared_task(name="reports.tasks.orders_expire_abandoned")
def orders_expire_abandoned() -> int:
    """Pending orders that never reached Stripe Checkout are closed."""
    return fulfilment.orders_expire_abandoned()


@shared_task(name="reports.tasks.stripe_reconcile")
def stripe_reconcile() -> dict:
    """Beat: catch up with what Stripe did while its webhooks were not arriving."""
    return reconcile.stripe_reconcile_scheduled()


@shared_task(name="reports.tasks.download_links_purge")
def download_links_purge() -> int:
    """Beat: delete download links dead for DOWNLOAD_LINK_PURGE_AFTER_DAYS."""
    return downloads.download_links_purge(older_than_days=settings.DOWNLOAD_LINK_PURGE_AFTER_DAYS)

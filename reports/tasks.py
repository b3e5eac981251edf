"""Scheduled work for orders (Celery beat). Background jobs run through common/tasks.py."""

from celery import shared_task

from .services import fulfilment


@shared_task(name="reports.tasks.orders_expire_abandoned")
def orders_expire_abandoned() -> int:
    """Pending orders that never reached Stripe Checkout are closed."""
    return fulfilment.orders_expire_abandoned()

"""Thin tasks: arguments are primary keys; the body calls a service. Names route them to
queues (CELERY_TASK_ROUTES): stripe_* and order_* run on "payments"."""

from celery import shared_task
from django.utils import timezone

from .services import fulfilment, webhooks


@shared_task(acks_late=True)
def stripe_event_process(event_id: int) -> str:
    event = webhooks.stripe_event_process(event_id=event_id)
    if event is None:
        return "skipped"
    if event.status == event.Status.RETRYING:
        delay = max(1, int((event.next_attempt_at - timezone.now()).total_seconds()))
        webhooks.stripe_event_dispatch(event=event, countdown=delay)
    return event.status


@shared_task(bind=True, acks_late=True, max_retries=None)
def order_deliverable_prepare(self, order_id: int) -> str:
    try:
        return fulfilment.order_deliverable_prepare(order_id=order_id)
    except fulfilment.DeliverableRetry as exc:
        raise self.retry(countdown=exc.countdown) from exc


@shared_task
def stripe_sweep() -> dict:
    """Beat: re-dispatch unprocessed events and unprepared reports; close abandoned orders."""
    return {
        "events": webhooks.stripe_events_dispatch_stale(),
        "deliverables": fulfilment.order_deliverables_dispatch_stale(),
        "abandoned": fulfilment.orders_expire_abandoned(),
    }

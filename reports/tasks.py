"""Thin tasks: primary keys in, a service call inside. Routed by name
(CELERY_TASK_ROUTES): `pdf_*` → queue "pdf"; `stripe_*` and `order_*` → "payments"."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from .services import documents, downloads, fulfilment, reconcile, webhooks


@shared_task(
    name="reports.tasks.pdf_render_report",
    soft_time_limit=settings.PDF_RENDER_SOFT_TIME_LIMIT,
    time_limit=settings.PDF_RENDER_TIME_LIMIT,
    autoretry_for=(OperationalError,),
    max_retries=settings.PDF_RENDER_MAX_ATTEMPTS,
    retry_backoff=settings.PDF_RENDER_RETRY_BACKOFF_SECONDS,
)
def pdf_render_report(report_id: int) -> None:
    """Render the base full report and sample of the report's current content (if needed)."""
    documents.report_documents_render(report_id=report_id)


@shared_task(name="reports.tasks.pdf_render_stale")
def pdf_render_stale() -> None:
    """Beat: enqueue renders whose message was lost or whose worker was killed."""
    documents.documents_render_stale()


@shared_task(name="reports.tasks.stripe_event_process", acks_late=True)
def stripe_event_process(event_id: int) -> str:
    event = webhooks.stripe_event_process(event_id=event_id)
    if event is None:
        return "skipped"
    if event.status == event.Status.RETRYING:
        delay = max(1, int((event.next_attempt_at - timezone.now()).total_seconds()))
        webhooks.stripe_event_dispatch(event=event, countdown=delay)
    return event.status


@shared_task(
    name="reports.tasks.order_deliverable_prepare", bind=True, acks_late=True, max_retries=None
)
def order_deliverable_prepare(self, order_id: int) -> str:
    try:
        return fulfilment.order_deliverable_prepare(order_id=order_id)
    except fulfilment.DeliverableRetry as exc:
        raise self.retry(countdown=exc.countdown) from exc


@shared_task(name="reports.tasks.stripe_sweep")
def stripe_sweep() -> dict:
    """Beat: re-dispatch unprocessed events and unprepared reports; close abandoned orders."""
    return {
        "events": webhooks.stripe_events_dispatch_stale(),
        "deliverables": fulfilment.order_deliverables_dispatch_stale(),
        "abandoned": fulfilment.orders_expire_abandoned(),
    }


@shared_task(name="reports.tasks.stripe_reconcile")
def stripe_reconcile() -> dict:
    """Beat: catch up with what Stripe did while its webhooks were not arriving."""
    return reconcile.stripe_reconcile_scheduled()


@shared_task(name="reports.tasks.download_links_purge")
def download_links_purge() -> int:
    """Beat: delete download links dead for DOWNLOAD_LINK_PURGE_AFTER_DAYS."""
    return downloads.download_links_purge(older_than_days=settings.DOWNLOAD_LINK_PURGE_AFTER_DAYS)

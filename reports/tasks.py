"""Thin tasks: primary keys in, a service call inside. Routed by name: `pdf_*` → queue "pdf"."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from .services import documents


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

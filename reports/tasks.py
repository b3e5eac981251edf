"""Scheduled work for the catalogue (Celery beat). Background jobs run through
common/tasks.py."""

from celery import shared_task

from .services import related


@shared_task(name="reports.tasks.related_reports_refresh")
def related_reports_refresh() -> int:
    """Beat: recompute the report page's related reports (reports/services/related.py)."""
    return related.related_reports_refresh()

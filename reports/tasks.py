"""Scheduled work for the catalogue (Celery beat; thin: the services do the work).
Background jobs run through common/tasks.py."""

from celery import shared_task

from .services import alerts, related


@shared_task(name="reports.tasks.related_reports_refresh")
def related_reports_refresh() -> int:
    """Beat: recompute the report page's related reports (reports/services/related.py)."""
    return related.related_reports_refresh()


@shared_task(name="reports.tasks.alerts_digest_send")
def alerts_digest_send() -> int:
    """Beat: email the weekly digests of new reports (reports/services/alerts.py)."""
    return alerts.alerts_digest_send()

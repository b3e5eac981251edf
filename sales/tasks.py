"""Scheduled work of the sales desk (Celery beat): rescoring leads. The DNS lookups a score
needs happen here, never in a request."""

from celery import shared_task

from .services import scoring


@shared_task(name="sales.tasks.leads_rescore_stale")
def leads_rescore_stale() -> int:
    """Beat (LEAD_SCORE_STALE_INTERVAL_SECONDS): the contacts whose samples, enquiries,
    orders or details changed since their last score."""
    return scoring.leads_rescore_stale()


@shared_task(name="sales.tasks.leads_rescore_all")
def leads_rescore_all() -> int:
    """Beat (LEAD_SCORE_ALL_INTERVAL_SECONDS): every contact, so expired MX answers and
    changed weights reach every score."""
    return scoring.leads_rescore()

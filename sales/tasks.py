"""Scheduled work of the sales desk (Celery beat): rescoring leads (the DNS lookups a score
needs happen here, never in a request) and keeping the dashboard's default figures ready."""

from celery import shared_task

from .selectors import dashboard
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


@shared_task(name="sales.tasks.sales_dashboard_warm")
def sales_dashboard_warm() -> bool:
    """Beat (SALES_DASHBOARD_WARM_SECONDS): the default range's figures, when none are kept."""
    return dashboard.dashboard_warm()

"""Beat tasks of the catalogue (thin: the services do the work)."""

from celery import shared_task

from .services import alerts


@shared_task(name="reports.tasks.alerts_digest_send")
def alerts_digest_send() -> int:
    return alerts.alerts_digest_send()

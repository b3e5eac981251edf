"""Beat tasks of the leads app (thin: the services do the work)."""

from celery import shared_task

from .services import followups


@shared_task(name="enquiries.tasks.followups_send_due")
def followups_send_due() -> int:
    return followups.followups_send_due()

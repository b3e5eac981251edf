"""The Celery side of background jobs (common/jobs.py): one task runs any kind of job, one
sweeper publishes what is due. Each job is published to its kind's queue. Also the site's
own housekeeping (routed to the "default" queue)."""

from celery import shared_task
from django.core.management import call_command

from . import jobs


@shared_task(name="common.tasks.job_run", bind=True)
def job_run(self, job_id: int) -> str:
    # The task id is the claim's token: the same message delivered again (its worker died
    # before acknowledging) may take over its own claim.
    _, soft_time_limit = self.request.timelimit or (None, None)
    return jobs.run(job_id, token=self.request.id, soft_time_limit=soft_time_limit)


jobs.runner_register(job_run)


@shared_task(name="common.tasks.jobs_sweep")
def jobs_sweep() -> int:
    return jobs.sweep()


@shared_task(name="common.tasks.sessions_clear_expired")
def sessions_clear_expired() -> None:
    """Beat: Django's `clearsessions` (expired rows of the database session store).
    https://docs.djangoproject.com/en/stable/topics/http/sessions/#clearing-the-session-store"""
    call_command("clearsessions")

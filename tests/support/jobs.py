"""Running a background job in the test process, without the broker: for tests of one
handler's behaviour that must not race the shared worker."""

import uuid

from common import jobs
from common.models import Job


def job_of(kind: str, target_id: int) -> Job:
    return Job.objects.get(kind=kind, target_id=target_id)


def run_job(kind: str, target_id: int, *, due_now: bool = True) -> str:
    """Claim and run the job of `kind` for `target_id` here (created unpublished if it does
    not exist). `due_now`: a retry waiting for its backoff runs at once."""
    job, _ = Job.objects.get_or_create(kind=kind, target_id=target_id)
    if due_now:
        Job.objects.filter(pk=job.pk, state=Job.State.PENDING).update(due_at=job.created_at)
    return jobs.run(job.pk, token=uuid.uuid4().hex)


def site_callbacks(callbacks: list) -> list:
    """Captured on-commit callbacks but the sales dashboard's "figures changed" bump
    (sales/selectors/kept.py), which every saved sample, enquiry, order or contact adds: the
    tests that count callbacks count the site's own work (publishing a job, sending)."""
    return [c for c in callbacks if "figures_changed" not in c.__qualname__]

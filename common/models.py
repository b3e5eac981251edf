"""The job table: one row per piece of background work (see common/jobs.py)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Job(models.Model):
    """The durable intent to do one kind of work for one target row, and how it went.

    Written in the same transaction as the change that needs the work, so a commit never
    loses it; published to Celery after commit; claimed by a worker before it runs. A kind
    has at most one row per target: doing the work again resets the row."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (State.PENDING, State.RUNNING)

    kind = models.CharField(max_length=60)
    target_id = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Counted when a worker claims the job, so a run that dies counts."
    )
    due_at = models.DateTimeField(
        default=timezone.now, help_text="Not run before this (the next attempt after a failure)."
    )
    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the broker was last handed a message for it (when that message is due, "
        "for a delayed retry); empty when the broker could not be reached.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id of the run holding the claim: the same message delivered again
    # means that run's worker died before it acknowledged, or its connection to the broker
    # broke (see claimed_by).
    claim_token = models.CharField(max_length=64, blank=True)
    # The process running the claim (host:pid:start time): a delivery of the same message
    # while it is alive is the broker handing it out again after a lost connection, not a
    # dead worker's (common/jobs.py, `_claim`).
    claimed_by = models.CharField(max_length=120, blank=True)
    last_error = models.TextField(blank=True)
    # The job this one is waiting for (a sample for its report's render): when that one
    # finishes, this one is due at once instead of at the end of its backoff.
    waiting_for = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="waiters"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("restart_job", "Can try a failed job again")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "target_id"], name="uniq_job_per_target"),
        ]
        indexes = [
            # The sweeper reads only unfinished rows; finished ones pile up and are purged.
            models.Index(
                fields=["state", "due_at"],
                condition=Q(state__in=["pending", "running"]),
                name="job_unfinished",
            ),
            models.Index(fields=["state", "finished_at"], name="job_finished"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.target_id}"


class PrivateFileDeletion(models.Model):
    """Personalised PDFs (stamped samples, buyers' copies) to delete from private storage
    after an erasure or a purge. Its "privacy.files_delete" job deletes them and retries
    while the storage fails (an S3 outage), so the erasure itself never waits for S3 and
    never leaves a file behind. Paths are by id (samples/<report>/<request id>.pdf)."""

    paths = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{len(self.paths)} private file(s) to delete"

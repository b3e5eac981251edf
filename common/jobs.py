"""Background jobs: the one mechanism every kind of background work uses.

A job is a row (`common.models.Job`): the intent to do one kind of work for one target row,
written by `enqueue` in the same transaction as the change that needs it, so a commit never
loses it. After commit the row is published to Celery with a bounded publish: a broker that
is down costs one short timeout, after which publishing is skipped for a cool-down and the
sweeper owns the rows. A worker claims the row before running it (`run`), and the attempt is
counted in the claim's own transaction: a run that kills its worker still counts. A failure
retries with capped exponential backoff (`backoff_seconds`); after the kind's attempts the row
is `failed` with its last error, the kind's `on_give_up` flags the owning record in the same
transaction, and staff can try again from admin (`restart`). The sweeper (`sweep`, Celery
beat) publishes what is due: rows the broker never got (at once), retries whose time has
come, and claims whose worker died.

Celery delivers messages; this module decides whether a delivery runs. A message can be lost
(the broker down, Redis restarted without persistence) or delivered twice (a worker killed
before it acknowledged, the sweeper and a delayed retry both firing): the row makes the first
recoverable and the second a no-op.
https://docs.celeryq.dev/en/stable/userguide/tasks.html#retrying
"""

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .breaker import Breaker
from .models import Job

logger = logging.getLogger(__name__)
State = Job.State


class Retry(Exception):  # noqa: N818 - read as "jobs.Retry(...)", like Celery's own Retry
    """Not possible yet (e.g. the PDF it needs is still rendering): counts as an attempt and
    tries again after the backoff, without a traceback in the log. `after`: the job it waits
    for; when that one finishes, this one runs at once instead of at the end of its backoff."""

    def __init__(self, message: str, *, after: Job | None = None):
        super().__init__(message)
        self.after = after


class GiveUp(Exception):  # noqa: N818
    """Will never work (e.g. the render is over its time limit): failed now, no retries."""


class Failure(Exception):  # noqa: N818
    """A failure whose message is what the row records, as it is (a handler that took
    personal data out of an error raises this from the original, e.g. an SMTP refusal that
    quotes the recipient): retried and logged like any other error."""


class ClaimLost(Exception):  # noqa: N818
    """Another run took this job over (this one outlived its lease): its writes are undone."""


@dataclass(frozen=True)
class Kind:
    name: str
    handler: Callable[..., None]
    model: type  # the model whose row `target_id` names
    queue: str
    # Setting names, read at each use so a deployment (or a test) can change them.
    max_attempts_setting: str
    backoff_setting: str
    on_give_up: Callable[[int, str], None] | None = None
    soft_time_limit_setting: str | None = None
    time_limit_setting: str = "JOB_TIME_LIMIT_SECONDS"

    @property
    def max_attempts(self) -> int:
        return max(1, getattr(settings, self.max_attempts_setting))

    def backoff_seconds(self, attempts: int) -> int:
        """Capped exponential backoff: base, 2×base, 4×base… up to JOB_RETRY_MAX_DELAY_SECONDS."""
        base = getattr(settings, self.backoff_setting)
        return int(min(settings.JOB_RETRY_MAX_DELAY_SECONDS, base * 2 ** max(0, attempts - 1)))

    @property
    def time_limits(self) -> dict:
        limits = {"time_limit": getattr(settings, self.time_limit_setting)}
        if self.soft_time_limit_setting:
            limits["soft_time_limit"] = getattr(settings, self.soft_time_limit_setting)
        return limits


KINDS: dict[str, Kind] = {}


def register(
    name: str,
    *,
    handler: Callable[..., None],
    model: type,
    queue: str,
    max_attempts: str,
    backoff: str,
    on_give_up: Callable[[int, str], None] | None = None,
    soft_time_limit: str | None = None,
    time_limit: str = "JOB_TIME_LIMIT_SECONDS",
) -> None:
    """A kind of job: `handler(work=JobRun)` does it for a row of `model`, on `queue`. `max_attempts`, `backoff`
    and the time limits name settings. `on_give_up(target_id, error)` runs in the
    transaction that marks the job failed: it flags the owning record."""
    KINDS[name] = Kind(
        name=name,
        handler=handler,
        model=model,
        queue=queue,
        max_attempts_setting=max_attempts,
        backoff_setting=backoff,
        on_give_up=on_give_up,
        soft_time_limit_setting=soft_time_limit,
        time_limit_setting=time_limit,
    )


# --- Asking for work ----------------------------------------------------------------------


def enqueue(
    name: str,
    *,
    target_id: int,
    delay: int = 0,
    run_here: bool = False,
    restart: bool = False,
    new_target: bool = False,
) -> Job:
    """Ask for `name` to be done for `target_id`, in the caller's transaction; published to
    a worker after commit. A job already waiting or running is left as it is (asking twice
    does the work once); a finished one is left alone unless `restart`, which starts it again
    with a fresh attempt budget. `run_here` (for code already in a worker): after commit, run
    it in this process instead of publishing it, saving a queue hop. `new_target`: the
    caller inserted the target row in this transaction, so it has no job yet: one INSERT
    instead of a look-up and an insert in a savepoint.

    A `delay` longer than the sweep interval (a reminder hours away) is not published now:
    the row waits undispatched and the sweeper publishes it on its first run after it is
    due, so no message sits in the broker for hours (Redis hands an unacknowledged `eta`
    message out again every visibility timeout, and a restart without persistence loses it)."""
    if name not in KINDS:
        raise KeyError(f"unknown job kind {name!r}")
    now = timezone.now()
    due = now + timedelta(seconds=delay)
    scheduled = delay > settings.JOB_SWEEP_INTERVAL_SECONDS
    dispatched = None if scheduled else due
    if new_target:
        job = Job.objects.create(
            kind=name, target_id=target_id, due_at=due, dispatched_at=dispatched
        )
        created = True
    else:
        job, created = Job.objects.get_or_create(
            kind=name, target_id=target_id, defaults={"due_at": due, "dispatched_at": dispatched}
        )
    if not created:
        if job.state in Job.ACTIVE or not restart:
            return job
        _reset(job, due=due, dispatched=dispatched)
    if scheduled:
        return job
    if run_here:
        transaction.on_commit(lambda: run(job.pk, token=uuid.uuid4().hex), robust=True)
    else:
        _publish_on_commit([job])
    return job


def restart(job: Job) -> Job:
    """Staff's "try again": a finished or failed job runs again with a fresh attempt budget."""
    return enqueue(job.kind, target_id=job.target_id, restart=True)


def _reset(job: Job, *, due, dispatched) -> None:
    job.state = State.PENDING
    job.attempts = 0
    job.due_at = due
    job.dispatched_at = dispatched
    job.claimed_at = None
    job.claim_token = ""
    job.last_error = ""
    job.finished_at = None
    job.save()


def job_for(name: str, target_id: int) -> Job | None:
    return Job.objects.filter(kind=name, target_id=target_id).first()


def with_job(queryset: QuerySet, name: str) -> QuerySet:
    """The owners in `queryset` annotated with their `name` job's job_state, job_attempts,
    job_last_error and job_due_at (None without a job): one subquery, no query per row."""
    own = Job.objects.filter(kind=name, target_id=OuterRef("pk"))
    fields = ("state", "attempts", "last_error", "due_at")
    return queryset.annotate(**{f"job_{f}": Subquery(own.values(f)[:1]) for f in fields})


# --- Publishing: after commit, bounded ----------------------------------------------------

broker_breaker = Breaker()
_local = threading.local()


def _publish_on_commit(jobs: list[Job]) -> None:
    snapshot = [(job.pk, job.kind, job.due_at) for job in jobs]
    transaction.on_commit(lambda: publish(snapshot), robust=True)


def publish(messages: list[tuple[int, str, object]]) -> int:
    """Hand (job id, kind, due time) messages to the broker; returns how many went out.

    Never retries inside a request: one connection attempt bounded by
    JOB_PUBLISH_TIMEOUT_SECONDS, and after a failure no attempt at all for
    JOB_PUBLISH_COOLDOWN_SECONDS. Rows that did not go out are marked undispatched, so the
    sweeper publishes them as soon as the broker is back."""
    if not messages:
        return 0
    sent: list[int] = []
    if not broker_breaker.is_open:
        try:
            for job_id, name, due_at in messages:
                _send(job_id, KINDS[name], due_at)
                sent.append(job_id)
        except Exception as exc:  # noqa: BLE001 - any broker error: the row is the intent
            broker_breaker.trip(seconds=settings.JOB_PUBLISH_COOLDOWN_SECONDS)
            _drop_connection()
            logger.warning(
                "broker unavailable (%s: %s); %s job(s) left for the sweeper",
                type(exc).__name__,
                exc,
                len(messages) - len(sent),
            )
    unsent = [job_id for job_id, _, _ in messages if job_id not in sent]
    if unsent:
        Job.objects.filter(pk__in=unsent, state=State.PENDING).update(dispatched_at=None)
    return len(sent)


# The Celery task that runs a job (common/tasks.py registers it when CommonConfig is ready):
# this module publishes it without importing the task module, which imports this one.
_runner = None


def runner_register(task) -> None:
    global _runner
    _runner = task


def _send(job_id: int, kind: Kind, due_at) -> None:
    options = {"queue": kind.queue, "retry": False, **kind.time_limits}
    if due_at and due_at > timezone.now():
        options["eta"] = due_at
    _runner.apply_async(args=[job_id], connection=_connection(), **options)


def _connection():
    """This thread's publishing connection: short timeouts and no retry loop, unlike the
    worker's consuming connection (which should keep retrying)."""
    conn = getattr(_local, "connection", None)
    if conn is None:
        app = _runner.app  # the project's Celery app (smosite/celery.py)
        timeout = settings.JOB_PUBLISH_TIMEOUT_SECONDS
        options = {
            **app.conf.broker_transport_options,
            "max_retries": 0,
            "interval_start": 0,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
        }
        conn = app.connection_for_write(connect_timeout=timeout, transport_options=options)
        _local.connection = conn
    return conn


def publisher_reset() -> None:
    """Forget an earlier broker failure and the publishing connection (after the broker's
    address changed, or in tests that stopped it)."""
    broker_breaker.reset()
    _drop_connection()


def _drop_connection() -> None:
    conn = getattr(_local, "connection", None)
    _local.connection = None
    if conn is not None:
        with contextlib.suppress(Exception):  # it is broken already; nothing to release
            conn.release()


# --- Running (the worker's side) ----------------------------------------------------------


class JobRun:
    """What a handler gets: the job's target and attempt, and `completing()` to write its
    result in the same transaction that marks the job done."""

    def __init__(self, job: Job, token: str, soft_time_limit: float | None = None):
        self.job_id = job.pk
        self.kind = job.kind
        self.target_id = job.target_id
        self.attempt = job.attempts
        self.token = token
        # The soft limit this run was given (by its message), if any.
        self.soft_time_limit = soft_time_limit
        self.completed = False

    @contextmanager
    def completing(self):
        """A transaction holding the job's row lock: the handler's final writes and the job's
        `done` commit together, or not at all (ClaimLost if another run took over)."""
        with transaction.atomic():
            job = _locked_own_claim(self.job_id, self.token)
            if job is None:
                raise ClaimLost(f"job {self.job_id} was taken over by another run")
            yield
            job.state = State.DONE
            job.finished_at = timezone.now()
            job.save(update_fields=["state", "finished_at"])
            _wake_waiters(job)
            self.completed = True


def run(job_id: int, *, token: str, soft_time_limit: float | None = None) -> str:
    """Claim the job and run its handler once; returns what happened (for the worker log)."""
    job = _claim(job_id, token)
    if job is None:
        return "skipped"
    kind = KINDS[job.kind]
    work = JobRun(job, token, soft_time_limit)
    started = time.monotonic()
    try:
        kind.handler(work=work)
        if not work.completed:
            with work.completing():
                pass
    except kind.model.DoesNotExist:
        with work.completing():  # deleted since it was asked for: nothing left to do
            pass
        return "done: its target is gone"
    except ClaimLost:
        logger.warning("job %s (%s) lost its claim; its result was discarded", job_id, job.kind)
        return "claim lost"
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried or given up
        return _record_failure(work, kind, exc)
    logger.info("job %s %s done in %.2fs", job.kind, job.target_id, time.monotonic() - started)
    return "done"


@transaction.atomic
def _claim(job_id: int, token: str) -> Job | None:
    """The job, marked running with its attempt counted; None when there is nothing to run:
    finished, not due yet, or held by a live claim. A claim older than JOB_LEASE_SECONDS, or
    held by this same message (a redelivery) whose process is gone, belonged to a worker that
    died: taken over. The same message while its process still runs is the broker handing it
    out again after a lost connection (issue 20): running it too would do the work twice."""
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state not in Job.ACTIVE or job.kind not in KINDS:
        return None
    now = timezone.now()
    if job.state == State.RUNNING:
        lease_expired = job.claimed_at < now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
        if not lease_expired and (job.claim_token != token or _claimant_alive(job.claimed_by)):
            return None
        job.last_error = (
            f"Attempt {job.attempts} did not finish: the worker was killed or timed out."
        )
    elif job.due_at > now + timedelta(seconds=1):
        return None  # an early delivery; the message for the due time (or the sweeper) runs it
    kind = KINDS[job.kind]
    if job.attempts >= kind.max_attempts:
        _give_up(job, kind, f"Gave up after {job.attempts} attempts. {job.last_error}".strip())
        return None
    job.state = State.RUNNING
    job.attempts += 1
    job.claimed_at = now
    job.claim_token = token
    job.claimed_by = _claimant()
    job.save(
        update_fields=["state", "attempts", "claimed_at", "claim_token", "claimed_by", "last_error"]
    )
    return job


def _claimant(pid: int | None = None) -> str:
    """A process as a claim records it: host, pid and the process's start time, so that a
    pid the system has given to another process since is not taken for it."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_started(pid)}"


def _process_started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" when unknown."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _claimant_alive(claimed_by: str) -> bool:
    """Whether the process that claimed a job may still be running it. One on this machine
    is looked up; one on another machine cannot be, so it counts as alive until its lease
    runs out. A claim that names no process (made before claims did) counts as gone."""
    host, _, rest = claimed_by.partition(":")
    pid, _, started = rest.partition(":")
    if not claimed_by or not pid.isdigit():
        return False
    if host != socket.gethostname():
        return True
    if started:
        return _process_started(int(pid)) == started
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _locked_own_claim(job_id: int, token: str) -> Job | None:
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state != State.RUNNING or job.claim_token != token:
        return None
    return job


def _record_failure(work: JobRun, kind: Kind, exc: Exception) -> str:
    error = (
        str(exc) if isinstance(exc, Retry | GiveUp | Failure) else f"{type(exc).__name__}: {exc}"
    )
    if isinstance(exc, Retry):
        logger.info("job %s %s not ready: %s", kind.name, work.target_id, error)
    else:
        logger.warning(
            "job %s %s attempt %s failed: %s",
            kind.name,
            work.target_id,
            work.attempt,
            error,
            exc_info=not isinstance(exc, GiveUp),
        )
    with transaction.atomic():
        job = _locked_own_claim(work.job_id, work.token)
        if job is None:
            return "claim lost"
        job.last_error = error[:4000]
        if isinstance(exc, GiveUp) or job.attempts >= kind.max_attempts:
            _give_up(job, kind, job.last_error)
            return "failed"
        job.waiting_for = _still_running(getattr(exc, "after", None))
        delay = kind.backoff_seconds(job.attempts)
        if job.waiting_for is not None:
            # Woken when what it waits for finishes; the longest backoff is only a safety net.
            delay = settings.JOB_RETRY_MAX_DELAY_SECONDS
        elif isinstance(exc, Retry) and exc.after is not None:
            delay = 0  # what it waited for finished in the meantime
        job.state = State.PENDING
        job.due_at = timezone.now() + timedelta(seconds=delay)
        job.dispatched_at = job.due_at
        job.claim_token = ""
        job.save()
        _publish_on_commit([job])
    return f"retry in {delay}s"


def _give_up(job: Job, kind: Kind, error: str) -> None:
    """Failed for good: the row says why and the owning record is flagged, in one
    transaction (the caller's)."""
    job.state = State.FAILED
    job.last_error = error[:4000]
    job.finished_at = timezone.now()
    job.claim_token = ""
    job.save()
    logger.error("job %s %s failed: %s", job.kind, job.target_id, job.last_error)
    if kind.on_give_up:
        kind.on_give_up(job.target_id, job.last_error)
    _wake_waiters(job)


def _still_running(job: Job | None) -> Job | None:
    if job is None:
        return None
    job.refresh_from_db(fields=["state"])
    return job if job.state in Job.ACTIVE else None


def _wake_waiters(job: Job) -> None:
    """Jobs waiting for `job` (now finished, one way or the other) are due at once."""
    waiting = list(
        Job.objects.filter(waiting_for=job, state=State.PENDING).values_list("pk", "kind")
    )
    if not waiting:
        return
    now = timezone.now()
    Job.objects.filter(pk__in=[pk for pk, _ in waiting]).update(
        due_at=now, dispatched_at=now, waiting_for=None
    )
    transaction.on_commit(lambda: publish([(pk, name, None) for pk, name in waiting]), robust=True)


# --- The sweeper --------------------------------------------------------------------------


def sweep() -> int:
    """Publish every job that is due and has no live message: never published (the broker
    was down: at once), published but not run for JOB_REDISPATCH_AFTER_SECONDS (a lost
    message), or claimed by a worker that died (the lease ran out). Returns how many."""
    now = timezone.now()
    lost = now - timedelta(seconds=settings.JOB_REDISPATCH_AFTER_SECONDS)
    abandoned = now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    due = (
        Job.objects.filter(
            Q(state=State.PENDING, due_at__lte=now)
            & (Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost))
            | Q(state=State.RUNNING, claimed_at__lt=abandoned)
        )
        .order_by("due_at")
        .values_list("pk", "kind", "due_at")[: settings.JOB_SWEEP_BATCH]
    )
    messages = [(pk, name, None) for pk, name, _ in due if name in KINDS]
    if messages:
        Job.objects.filter(pk__in=[pk for pk, _, _ in messages]).update(dispatched_at=now)
    sent = publish(messages)
    _purge_finished(now)
    return sent


def _purge_finished(now) -> int:
    """Done rows are only bookkeeping once their owner recorded the result. Failed rows stay
    for staff for JOB_KEEP_FAILED_DAYS, then go too: their error may quote what the job
    handled (an address), and the owning record keeps its own copy of the outcome."""
    done = now - timedelta(days=settings.JOB_KEEP_DONE_DAYS)
    failed = now - timedelta(days=settings.JOB_KEEP_FAILED_DAYS)
    ids = list(
        Job.objects.filter(
            Q(state=State.DONE, finished_at__lt=done)
            | Q(state=State.FAILED, finished_at__lt=failed)
        ).values_list("pk", flat=True)[:1000]
    )
    return Job.objects.filter(pk__in=ids).delete()[0] if ids else 0

"""The job mechanism itself (common/jobs.py), on the real database, with a kind of job whose
handler each test scripts: claims, attempts, backoff, giving up, takeovers, the sweeper, and
the bounded publish against a broker that refuses or never answers."""

import socket
import subprocess
import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from common import jobs
from common.models import Job
from contacts.models import Contact
from tests.support.broker import broker_at, broker_unreachable

pytestmark = pytest.mark.django_db
KIND = "test.scripted"


class Script:
    """What the scripted kind's handler does on each run, and what it saw."""

    def __init__(self):
        self.steps = []  # per run: None (succeed), an exception to raise, or a callable
        self.seen_attempts = []
        self.gave_up = []

    def handler(self, *, work):
        self.seen_attempts.append(Job.objects.get(pk=work.job_id).attempts)
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, Exception):
            raise step
        if callable(step):
            step(work)

    def on_give_up(self, target_id, error):
        Contact.objects.filter(pk=target_id).update(name=f"gave up: {error}")
        self.gave_up.append(target_id)


@pytest.fixture
def script(settings):
    settings.TEST_MAX_ATTEMPTS = 3
    settings.TEST_BACKOFF_SECONDS = 10
    settings.JOB_RETRY_MAX_DELAY_SECONDS = 25
    scripted = Script()
    jobs.register(
        KIND,
        handler=scripted.handler,
        model=Contact,
        queue="default",
        max_attempts="TEST_MAX_ATTEMPTS",
        backoff="TEST_BACKOFF_SECONDS",
        on_give_up=scripted.on_give_up,
    )
    yield scripted
    del jobs.KINDS[KIND]


@pytest.fixture
def target():
    return Contact.objects.create(email="owner@example.com", name="Owner")


def job():
    return Job.objects.get(kind=KIND)


def run(token=None):
    return jobs.run(job().pk, token=token or uuid.uuid4().hex)


def make_due():
    Job.objects.filter(kind=KIND).update(due_at=timezone.now())


def test_asking_twice_makes_one_job_and_a_finished_one_runs_again_only_on_restart(script, target):
    first = jobs.enqueue(KIND, target_id=target.pk)
    assert jobs.enqueue(KIND, target_id=target.pk).pk == first.pk
    assert run() == "done" and job().state == "done"
    jobs.enqueue(KIND, target_id=target.pk)
    assert job().state == "done"  # not started again
    jobs.restart(job())
    assert (job().state, job().attempts) == ("pending", 0)
    assert run() == "done" and script.seen_attempts == [1, 1]


def test_the_attempt_is_counted_when_the_job_is_claimed(script, target):
    jobs.enqueue(KIND, target_id=target.pk)
    run()
    assert script.seen_attempts == [1]  # already counted while the handler ran


def test_failures_back_off_exponentially_up_to_the_cap(script, target):
    script.steps = [OSError("disk full"), OSError("disk full"), OSError("disk full")]
    jobs.enqueue(KIND, target_id=target.pk)
    delays = []
    for _ in range(2):
        started = timezone.now()
        assert run().startswith("retry in")
        assert job().state == "pending" and job().last_error == "OSError: disk full"
        delays.append(round((job().due_at - started).total_seconds()))
        make_due()
    assert delays == [10, 20]
    assert jobs.KINDS[KIND].backoff_seconds(3) == 25  # 40 s, capped


def test_a_retry_is_not_run_before_it_is_due(script, target):
    script.steps = [OSError("refused")]
    jobs.enqueue(KIND, target_id=target.pk)
    run()
    assert run() == "skipped"  # an early message, e.g. the sweeper's
    assert job().attempts == 1 and script.seen_attempts == [1]


def test_after_the_last_attempt_the_job_fails_and_its_owner_is_told_in_one_transaction(
    script, target
):
    script.steps = [OSError("a"), OSError("b"), OSError("c")]
    jobs.enqueue(KIND, target_id=target.pk)
    outcomes = []
    for _ in range(3):
        outcomes.append(run())
        make_due()
    assert outcomes[-1] == "failed"
    assert (job().state, job().attempts, job().last_error) == ("failed", 3, "OSError: c")
    target.refresh_from_db()
    assert target.name == "gave up: OSError: c" and script.gave_up == [target.pk]
    assert run() == "skipped" and job().attempts == 3  # never past the limit


def test_give_up_fails_at_once(script, target):
    script.steps = [jobs.GiveUp("over the time limit")]
    jobs.enqueue(KIND, target_id=target.pk)
    assert run() == "failed"
    assert (job().attempts, job().last_error) == (1, "over the time limit")


def test_a_live_claim_keeps_other_deliveries_out(script, target):
    jobs.enqueue(KIND, target_id=target.pk)
    Job.objects.filter(kind=KIND).update(
        state="running", claimed_at=timezone.now(), claim_token="alive", attempts=1
    )
    assert run(token="another-message") == "skipped"
    assert script.seen_attempts == []


def a_process_that_ended() -> str:
    """A claimant on this machine whose process is gone (as a pool process killed mid-job)."""
    process = subprocess.Popen(["true"])  # noqa: S603, S607 - a fixed, harmless command
    claimant = jobs._claimant(process.pid)
    process.wait()
    return claimant


def claimed(token: str, claimant: str, attempts: int = 1) -> None:
    Job.objects.filter(kind=KIND).update(
        state="running",
        claimed_at=timezone.now(),
        claim_token=token,
        claimed_by=claimant,
        attempts=attempts,
    )


def test_the_same_message_delivered_again_takes_over_its_dead_claim(script, target):
    jobs.enqueue(KIND, target_id=target.pk)
    claimed("msg-1", a_process_that_ended())
    assert run(token="msg-1") == "done"  # its worker was killed before it acknowledged
    assert script.seen_attempts == [2]


def test_the_same_message_delivered_again_while_its_process_still_runs_it_is_skipped(
    script, target
):
    """The broker hands a message out again when the connection it was delivered on broke
    (RabbitMQ at once, Redis when the worker could put it back): the first run goes on, and
    a second one beside it would send the email twice."""
    jobs.enqueue(KIND, target_id=target.pk)
    claimed("msg-1", jobs._claimant())  # this very process holds the claim
    assert run(token="msg-1") == "skipped"
    assert script.seen_attempts == [] and job().attempts == 1


def test_a_claim_from_another_machine_waits_for_its_lease(script, target, settings):
    jobs.enqueue(KIND, target_id=target.pk)
    claimed("msg-1", f"not-{socket.gethostname()}:123:456")
    assert run(token="msg-1") == "skipped"  # its process cannot be looked at from here
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    Job.objects.filter(kind=KIND).update(claimed_at=long_ago)
    assert run(token="msg-1") == "done" and script.seen_attempts == [2]


def test_a_pid_given_to_another_process_is_not_taken_for_the_claimant(script, target):
    jobs.enqueue(KIND, target_id=target.pk)
    host, pid, started = jobs._claimant().split(":")
    claimed("msg-1", f"{host}:{pid}:{int(started) - 1}")  # same pid, an earlier process
    assert run(token="msg-1") == "done"


def test_a_claim_past_its_lease_is_taken_over(script, target, settings):
    jobs.enqueue(KIND, target_id=target.pk)
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    Job.objects.filter(kind=KIND).update(
        state="running", claimed_at=long_ago, claim_token="dead", attempts=1
    )
    assert run() == "done" and script.seen_attempts == [2]


def test_a_job_that_kills_its_worker_every_time_stops_after_the_last_attempt(script, target):
    jobs.enqueue(KIND, target_id=target.pk)
    claimed("msg", a_process_that_ended(), attempts=3)
    assert run(token="msg") == "skipped"  # the handler never runs a fourth time
    assert script.seen_attempts == []
    assert (job().state, job().attempts) == ("failed", 3)
    assert "did not finish: the worker was killed or timed out" in job().last_error
    target.refresh_from_db()
    assert target.name.startswith("gave up:")


def test_a_run_that_lost_its_claim_writes_nothing(script, target):
    def taken_over_then_write(work):
        Job.objects.filter(pk=work.job_id).update(claim_token="the-new-run")
        with work.completing():
            Contact.objects.filter(pk=target.pk).update(name="written by the old run")

    script.steps = [taken_over_then_write]
    jobs.enqueue(KIND, target_id=target.pk)
    assert run() == "claim lost"
    target.refresh_from_db()
    assert target.name == "Owner" and job().state == "running"


def test_a_job_waiting_for_another_is_due_as_soon_as_that_one_finishes(script, target):
    jobs.enqueue(KIND, target_id=target.pk + 1)  # what the other one waits for
    first = job()
    script.steps = [jobs.Retry("the render is not ready", after=first)]
    waiter = jobs.enqueue(KIND, target_id=target.pk)
    assert jobs.run(waiter.pk, token="t1").startswith("retry in")
    waiter.refresh_from_db()
    assert waiter.waiting_for_id == first.pk and waiter.due_at > timezone.now()

    assert jobs.run(first.pk, token="t2") == "done"
    waiter.refresh_from_db()
    assert waiter.waiting_for_id is None and waiter.due_at <= timezone.now()
    assert jobs.run(waiter.pk, token="t3") == "done"  # at once, not at the end of its backoff


def test_a_job_waiting_for_one_that_fails_is_due_at_once_too(script, target, settings):
    settings.TEST_MAX_ATTEMPTS = 1
    jobs.enqueue(KIND, target_id=target.pk + 1)
    first = job()
    script.steps = [jobs.Retry("waiting", after=first), OSError("render broken")]
    waiter = jobs.enqueue(KIND, target_id=target.pk)
    settings.TEST_MAX_ATTEMPTS = 2
    jobs.run(waiter.pk, token="t1")
    settings.TEST_MAX_ATTEMPTS = 1
    assert jobs.run(first.pk, token="t2") == "failed"
    waiter.refresh_from_db()
    assert waiter.waiting_for_id is None and waiter.due_at <= timezone.now()


def test_a_job_whose_target_was_deleted_is_done(script, target):
    jobs.enqueue(KIND, target_id=target.pk)

    def target_gone(work):
        Contact.objects.get(pk=work.target_id)

    script.steps = [target_gone]
    Contact.objects.filter(pk=target.pk).delete()
    assert run() == "done: its target is gone" and job().state == "done"


# --- The sweeper ----------------------------------------------------------------------------


def test_the_sweeper_publishes_exactly_what_is_due(script, settings):
    now = timezone.now()
    lost = now - timedelta(seconds=settings.JOB_REDISPATCH_AFTER_SECONDS + 1)
    dead = now - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    rows = {
        "never published": dict(dispatched_at=None),
        "message lost": dict(dispatched_at=lost, due_at=lost),
        "claim abandoned": dict(state="running", claimed_at=dead),
        "just published": dict(dispatched_at=now),
        "retry not due": dict(due_at=now + timedelta(minutes=5), dispatched_at=None),
        "running": dict(state="running", claimed_at=now),
        "done": dict(state="done", dispatched_at=None),
        "failed": dict(state="failed", dispatched_at=None),
    }
    ids = {
        label: Job.objects.create(kind=KIND, target_id=n, **fields).pk
        for n, (label, fields) in enumerate(rows.items())
    }
    before_sweep = timezone.now()
    assert jobs.sweep() == 3
    swept = Job.objects.filter(dispatched_at__gte=before_sweep).values_list("pk", flat=True)
    assert set(swept) == {ids["never published"], ids["message lost"], ids["claim abandoned"]}


def test_the_sweeper_deletes_done_jobs_after_their_keep_time(script, settings):
    old = timezone.now() - timedelta(days=settings.JOB_KEEP_DONE_DAYS + 1)
    Job.objects.create(kind=KIND, target_id=1, state="done", finished_at=old)
    Job.objects.create(kind=KIND, target_id=2, state="failed", finished_at=old)
    Job.objects.create(kind=KIND, target_id=3, state="done", finished_at=timezone.now())
    jobs.sweep()
    assert sorted(Job.objects.values_list("target_id", flat=True)) == [2, 3]


def test_the_sweeper_deletes_failed_jobs_after_their_own_keep_time(script, settings):
    """Failed jobs stay for staff longer, but not for ever: their errors may name a person."""
    settings.JOB_KEEP_DONE_DAYS, settings.JOB_KEEP_FAILED_DAYS = 1, 30
    day = timedelta(days=1)
    Job.objects.create(
        kind=KIND, target_id=1, state="failed", finished_at=timezone.now() - 31 * day
    )
    Job.objects.create(kind=KIND, target_id=2, state="failed", finished_at=timezone.now() - 2 * day)
    jobs.sweep()
    assert list(Job.objects.values_list("target_id", flat=True)) == [2]


# --- Publishing ---------------------------------------------------------------------------


@pytest.fixture
def silent_broker():
    """A TCP port that accepts connections and never says a word: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_publishing_to_a_broker_that_is_down_is_bounded_and_leaves_the_jobs_to_the_sweeper(
    script, target, broker, silent_broker, settings, monkeypatch
):
    """Twenty requests in a row, each asking for a job: the first costs at most the publish
    timeout, the rest never try the broker (the breaker is open); every job is left for the
    sweeper. The attempts are counted, not timed: on a loaded machine a commit alone can take
    longer than a refused connection."""
    context = broker_unreachable() if broker == "refusing" else broker_at(silent_broker)
    waits, attempts = [], []
    real_send = jobs._send

    def counted_send(*args, **kwargs):
        attempts.append(args[0])
        return real_send(*args, **kwargs)

    monkeypatch.setattr(jobs, "_send", counted_send)
    with context:
        for n in range(20):
            started = time.monotonic()
            with transaction.atomic():
                jobs.enqueue(KIND, target_id=target.pk + 1000 + n)
            waits.append(time.monotonic() - started)
    assert waits[0] < settings.JOB_PUBLISH_TIMEOUT_SECONDS * 4 + 0.5, waits
    assert len(attempts) == 1, attempts  # after the first failure nothing tries the broker
    assert Job.objects.filter(kind=KIND, dispatched_at__isnull=True).count() == 20

"""The broker restart test of issue 20, shared by its runs (Redis with each Procfile,
RabbitMQ): the whole site runs as `make run` / `make run-prod` start it, visitors post
samples and enquiries over HTTP, and the broker is really stopped and started again
RESTARTS times. Before each stop the test waits until the workers, reconnected, hold work of
every kind a live site holds: a job claimed and running (its message unacknowledged), and a
job waiting for its retry time (an email of that round the SMTP server answered with 451;
its message held by the worker until then), with room for more (`poised_since`). While the broker is down more visitors post, so their jobs
are not yet published. It passes only if every page request answered 200 throughout, every
process is alive at the end (none exited: the supervisor has nothing to restart), and every
email arrived exactly once."""

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from common.models import Job
from contacts.models import OutboundEmail
from enquiries.models import SampleRequest
from tests.support.procfile_site import EXPECTED, PageWatch, ProcfileSite, Visitor
from tests.support.smtp import Sink
from tests.support.waiting import wait_until

RESTARTS = 5
SAMPLES_PER_ROUND, SAMPLES_WHILE_DOWN = 3, 2  # and one enquiry per round
SMTP_DELAY_SECONDS = 0.3  # each message takes this long: jobs stay claimed while it sends
# The site's timings in the test: retries and sweeps within seconds.
SITE_ENV = {
    "MAIL_RETRY_BACKOFF_SECONDS": "6",
    "MAIL_MAX_ATTEMPTS": "8",
    "SAMPLE_PREPARE_RETRY_SECONDS": "1",
    "JOB_SWEEP_INTERVAL_SECONDS": "2",
    # A message lost with the broker (Redis keeps nothing on disk here) goes out again.
    "JOB_REDISPATCH_AFTER_SECONDS": "3",
    "JOB_PUBLISH_COOLDOWN_SECONDS": "1",
    "FORM_MIN_FILL_SECONDS": "0",
    "EMAIL_TIMEOUT": "120",  # a send the test holds (hold_first) must not time out
    "SAMPLE_RATE_LIMIT_PER_IP": "10000",
    "ENQUIRY_RATE_LIMIT_PER_IP": "10000",
    "WORKER_MAIL_CONCURRENCY": "2",
    "WORKER_DEFAULT_CONCURRENCY": "1",
    "WORKER_PDF_CONCURRENCY": "1",
    "WORKER_PAYMENTS_CONCURRENCY": "1",
}


@dataclass
class Figures:
    procfile: str
    broker: str
    restarts: int = 0
    claimed: list[int] = field(default_factory=list)  # at each stop
    retrying: list[int] = field(default_factory=list)
    unpublished: list[int] = field(default_factory=list)
    samples: int = 0
    enquiries: int = 0
    emails_expected: int = 0
    emails_received: int = 0
    page_answers: int = 0
    page_failures: int = 0
    longest_page_wait: float = 0.0
    outage_seconds: list[float] = field(default_factory=list)
    redelivered: str = ""  # what the run of a message delivered again while it ran said
    drained_after: float = 0.0

    def line(self) -> str:
        return (
            f"FIGURE broker restarts ({self.broker}, {self.procfile}): {self.restarts} restarts "
            f"(down {min(self.outage_seconds):.1f}-{max(self.outage_seconds):.1f} s); in flight "
            f"at each stop: claimed {self.claimed}, waiting for their retry time "
            f"{self.retrying}, not yet published {self.unpublished}; {self.samples} samples + "
            f"{self.enquiries} enquiries; emails {self.emails_received} received of "
            f"{self.emails_expected} expected, each once; {self.page_answers} page answers, "
            f"{self.page_failures} not 200, longest {self.longest_page_wait:.2f} s; all "
            f"delivered {self.drained_after:.1f} s after the last restart"
            + (
                f"; a job running across the last restart was delivered again, and that "
                f"delivery's run said {self.redelivered!r}"
                if self.redelivered
                else ""
            )
        )


class Visitors:
    """Samples and enquiries posted through the site's own forms, each from a new person."""

    def __init__(self, visitor: Visitor, report, mailbox: Sink):
        self.visitor = visitor
        self.report = report
        self.mailbox = mailbox
        self.samples = self.enquiries = 0

    def sample(self, *, fail_first_delivery: bool = False) -> None:
        """`fail_first_delivery`: the SMTP server answers the first try of its email with 451."""
        self.samples += 1
        n = self.samples
        if fail_first_delivery:
            self.mailbox.fail_once.add(f"reader{n}@pharma{n}.example")
        status = self.visitor.post_form(
            f"/enquiry/request-sample/{self.report.number}",
            {"name": f"Reader {n}", "email": f"reader{n}@pharma{n}.example",
             "company": f"Pharma {n}", "job_title": "Analyst", "country": "DE",
             "consent": "on"},
        )  # fmt: skip
        assert status == 302, f"sample {n}: {status}"

    def enquiry(self, *, fail_first_delivery: bool = False, hold: bool = False):
        """`hold`: the SMTP server answers the acknowledgement only when the returned gate
        is set."""
        self.enquiries += 1
        n = self.enquiries
        gate = self.mailbox.hold_first(f"asker{n}@trials{n}.example") if hold else None
        if fail_first_delivery:
            self.mailbox.fail_once.add(f"asker{n}@trials{n}.example")
        status = self.visitor.post_form(
            f"/enquiry/pre-order-enquiry/{self.report.number}",
            {"type": "pricing", "question": f"What does licence {n} cost?",
             "name": f"Asker {n}", "email": f"asker{n}@trials{n}.example",
             "company": f"Trials {n}", "job_title": "Buyer", "country": "FR",
             "consent": "on"},
        )  # fmt: skip
        assert status == 302, f"enquiry {n}: {status}"
        return gate


def poised_since(moment) -> dict[str, int] | None:
    """The moment the earlier fault tests never stopped the broker at: one job claimed and
    running (its message unacknowledged), a retry held until its time, both from claims made
    after `moment` (by workers connected to the broker as it is now), and nothing else due,
    so the worker has room for more and its task channel waits on BRPOP. That is when the
    worker of issue 20 exited; None until then."""
    now = timezone.now()
    running = Job.objects.filter(state=Job.State.RUNNING)
    fresh = Job.objects.filter(claimed_at__gt=moment)
    retrying = fresh.filter(state=Job.State.PENDING, attempts__gte=1, due_at__gt=now).count()
    due = Job.objects.filter(state=Job.State.PENDING, due_at__lte=now).exists()
    if running.count() == 1 and running.filter(claimed_at__gt=moment).exists() and retrying:
        return None if due else {"claimed": 1, "retrying": retrying}
    return None


def wait_poised(site, visitors: "Visitors", moment) -> dict[str, int]:
    """Up to two minutes: when the moment passed (two jobs ended together, the retries came
    due), a new sample every few seconds brings another claim and another retry."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert site.exits() == [], f"processes exited: {site.exits()}\n{site.tail(200)}"
        try:
            return wait_until(lambda: poised_since(moment), timeout=6, interval=0.02)
        except AssertionError:
            visitors.sample(fail_first_delivery=True)
    raise AssertionError(f"never one claimed job with a retry held:\n{site.tail()}")


def broker_restarts(
    *, site: ProcfileSite, broker, broker_name: str, report, mailbox, redelivers: bool = False
) -> Figures:
    """`broker` has stop() and start(). Returns the figures; asserts what the test promises.
    `redelivers`: the broker keeps messages and hands out again those whose connection
    broke (RabbitMQ). Then the last round's acknowledgement is still being sent when the
    broker is back, its message is delivered again, and the run of that delivery must leave
    the email to the first one."""
    figures = Figures(procfile=site.procfile, broker=broker_name)
    visitors = Visitors(Visitor(site.port), report, mailbox)
    watch = PageWatch(Visitor(site.port), ["/", report.get_absolute_url()], interval=0.4)
    watch.start()
    mailbox.delay_seconds = SMTP_DELAY_SECONDS
    try:
        back = timezone.now()
        for n in range(RESTARTS):
            # Two emails of this round wait for their retry time: the first sample's and the
            # enquirer's acknowledgement (their first delivery answered 451).
            visitors.sample(fail_first_delivery=True)
            for _ in range(SAMPLES_PER_ROUND - 1):
                visitors.sample()
            outlives = redelivers and n == RESTARTS - 1
            gate = visitors.enquiry(fail_first_delivery=not outlives, hold=outlives)
            held = wait_poised(site, visitors, back)
            running = Job.objects.get(state=Job.State.RUNNING) if gate else None  # held
            figures.claimed.append(held["claimed"])
            figures.retrying.append(held["retrying"])
            stopped = time.monotonic()
            broker.stop()
            for _ in range(SAMPLES_WHILE_DOWN):
                visitors.sample()
            unpublished = Job.objects.filter(state=Job.State.PENDING, dispatched_at__isnull=True)
            figures.unpublished.append(unpublished.count())
            broker.start()
            figures.outage_seconds.append(time.monotonic() - stopped)
            if gate is not None:
                assert running.kind == "mail.send", running
                figures.redelivered = _redelivered_while_running(site, running, gate)
            figures.restarts += 1
            back = timezone.now()
        last_restart = time.monotonic()
        _wait_delivered(site, visitors, mailbox, figures)
        figures.drained_after = time.monotonic() - last_restart
    finally:
        watch.stop()
        mailbox.delay_seconds = 0.0  # the SMTP server is the session's: nothing left behind
        mailbox.fail_once.clear()
        mailbox.release_holds()
    figures.page_answers = len(watch.answers)
    figures.page_failures = len(watch.failures)
    figures.longest_page_wait = watch.longest
    _assert_promises(site, visitors, mailbox, watch, figures)
    return figures


def _redelivered_while_running(site, job: Job, gate) -> str:
    """Wait until the broker delivered the running job's message again and that delivery's
    run ended, then let the first run's email through. Returns what the second run said."""
    task = f"Task common.tasks.job_run[{job.claim_token}]"
    try:
        done = wait_until(
            lambda: re.search(re.escape(task) + r" succeeded in [\d.]+s: '([^']+)'", site.output()),
            timeout=120,
            message=f"{task} was not delivered again:\n{site.tail()}",
        )
    finally:
        gate.set()
    return done.group(1)


def _wait_delivered(site, visitors, mailbox, figures) -> None:
    figures.samples, figures.enquiries = visitors.samples, visitors.enquiries
    figures.emails_expected = visitors.samples + 2 * visitors.enquiries  # ack + sales notice
    unfinished = Job.objects.filter(state__in=[Job.State.PENDING, Job.State.RUNNING])

    def state() -> str:
        jobs = unfinished.values_list("pk", "kind", "target_id", "state", "attempts", "due_at")
        return (
            f"{len(mailbox.messages)} of {figures.emails_expected} emails; unfinished: {list(jobs)}"
        )

    wait_until(
        lambda: len(mailbox.messages) >= figures.emails_expected and not unfinished.exists(),
        timeout=240,
        interval=0.5,
        message="not every email was delivered",
        describe=lambda: f"{state()}\n{site.tail()}",
    )
    # Every job is finished: nothing can send any more, so this count is final.
    figures.emails_received = len(mailbox.messages)


def _assert_promises(site, visitors, mailbox, watch, figures) -> None:
    assert watch.failures == [], f"pages that did not answer 200: {watch.failures[:10]}"
    assert site.exits() == [], f"processes exited: {site.exits()}\n{site.tail(200)}"
    assert "Unrecoverable error" not in site.output()
    running = site.running()
    expected = EXPECTED[site.kind]
    assert all(running[kind] >= count for kind, count in expected.items()), running
    message_ids = Counter(message["Message-ID"] for message in mailbox.messages)
    assert figures.emails_received == figures.emails_expected, message_ids
    assert set(message_ids.values()) == {1}
    people = Counter(to for env in mailbox.envelopes for to in env.rcpt_tos if "sales" not in to)
    assert len(people) == visitors.samples + visitors.enquiries and set(people.values()) == {1}
    assert SampleRequest.objects.filter(status="emailed").count() == visitors.samples
    assert not OutboundEmail.objects.exclude(status="sent").exists()
    # The run really held work of every kind at every stop (the old fault tests did not).
    assert all(figures.claimed) and all(figures.retrying) and all(figures.unpublished)
    assert figures.redelivered in ("", "skipped"), figures.redelivered

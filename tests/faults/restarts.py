"""The broker restart test of issue 20, shared by its runs (Redis with each Procfile,
RabbitMQ): the whole site runs as `make run` / `make run-prod` start it, visitors post
samples and enquiries over HTTP, and the broker is really stopped and started again
RESTARTS times. Before each stop the test waits until the workers, reconnected, hold work of
every kind a live site holds: a job claimed and running (its message unacknowledged), and a
job waiting for its retry time (an email the SMTP server answered with 451; its message
held by the worker until then). While the broker is down more visitors post, so their jobs
are not yet published. It passes only if every page request answered 200 throughout, every
process is alive at the end (none exited: the supervisor has nothing to restart), and every
email arrived exactly once."""

import time
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from common.models import Job
from enquiries.models import OutboundEmail, SampleRequest
from tests.support.procfile_site import EXPECTED, PageWatch, ProcfileSite, Visitor
from tests.support.waiting import wait_until

RESTARTS = 5
SAMPLES_PER_ROUND, ENQUIRIES_PER_ROUND, SAMPLES_WHILE_DOWN = 3, 1, 2
FAILED_DELIVERIES_PER_ROUND = 2  # answered 451: their emails wait for their retry time
SMTP_DELAY_SECONDS = 0.5  # each message takes this long: jobs stay claimed while it sends
# The site's timings in the test: retries and sweeps within seconds.
SITE_ENV = {
    "MAIL_RETRY_BACKOFF_SECONDS": "4",
    "MAIL_MAX_ATTEMPTS": "8",
    "SAMPLE_PREPARE_RETRY_SECONDS": "1",
    "JOB_SWEEP_INTERVAL_SECONDS": "2",
    # A message lost with the broker (Redis keeps nothing on disk here) goes out again.
    "JOB_REDISPATCH_AFTER_SECONDS": "4",
    "JOB_PUBLISH_COOLDOWN_SECONDS": "1",
    "FORM_MIN_FILL_SECONDS": "0",
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
        )


class Visitors:
    """Samples and enquiries posted through the site's own forms, each from a new person."""

    def __init__(self, visitor: Visitor, report):
        self.visitor = visitor
        self.report = report
        self.samples = self.enquiries = 0

    def sample(self) -> None:
        self.samples += 1
        n = self.samples
        status = self.visitor.post_form(
            f"/enquiry/request-sample/{self.report.number}",
            {"name": f"Reader {n}", "email": f"reader{n}@pharma{n}.example",
             "company": f"Pharma {n}", "job_title": "Analyst", "country": "DE",
             "consent": "on"},
        )  # fmt: skip
        assert status == 302, f"sample {n}: {status}"

    def enquiry(self) -> None:
        self.enquiries += 1
        n = self.enquiries
        status = self.visitor.post_form(
            f"/enquiry/pre-order-enquiry/{self.report.number}",
            {"type": "pricing", "question": f"What does licence {n} cost?",
             "name": f"Asker {n}", "email": f"asker{n}@trials{n}.example",
             "company": f"Trials {n}", "job_title": "Buyer", "country": "FR",
             "consent": "on"},
        )  # fmt: skip
        assert status == 302, f"enquiry {n}: {status}"


def held_since(moment) -> dict[str, int] | None:
    """Claimed jobs and jobs waiting for their retry time, both from claims made after
    `moment` (by workers connected to the broker as it is now); None until there are both."""
    now = timezone.now()
    fresh = Job.objects.filter(claimed_at__gt=moment)
    claimed = fresh.filter(state=Job.State.RUNNING).count()
    retrying = fresh.filter(state=Job.State.PENDING, attempts__gte=1, due_at__gt=now).count()
    return {"claimed": claimed, "retrying": retrying} if claimed and retrying else None


def broker_restarts(*, site: ProcfileSite, broker, broker_name: str, report, mailbox) -> Figures:
    """`broker` has stop() and start(). Returns the figures; asserts what the test promises."""
    figures = Figures(procfile=site.procfile, broker=broker_name)
    visitors = Visitors(Visitor(site.port), report)
    watch = PageWatch(Visitor(site.port), ["/", report.get_absolute_url()]).start()
    mailbox.delay_seconds = SMTP_DELAY_SECONDS
    try:
        back = timezone.now()
        for _ in range(RESTARTS):
            mailbox.fail_next = FAILED_DELIVERIES_PER_ROUND
            for _ in range(SAMPLES_PER_ROUND):
                visitors.sample()
            for _ in range(ENQUIRIES_PER_ROUND):
                visitors.enquiry()
            held = wait_until(
                lambda back=back: held_since(back),
                timeout=120,
                interval=0.05,
                message=f"no claimed and retrying jobs after the restart:\n{site.tail()}",
            )
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
            figures.restarts += 1
            back = timezone.now()
        last_restart = time.monotonic()
        _wait_delivered(site, visitors, mailbox, figures)
        figures.drained_after = time.monotonic() - last_restart
    finally:
        watch.stop()
        mailbox.delay_seconds, mailbox.fail_next = 0.0, 0  # the SMTP server is the session's
    figures.page_answers = len(watch.answers)
    figures.page_failures = len(watch.failures)
    figures.longest_page_wait = watch.longest
    _assert_promises(site, visitors, mailbox, watch, figures)
    return figures


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


class RedisRestarts:
    """The private redis-server as the test's broker: each stop closes the publish/subscribe
    connections first (RedisServer.stop), the order in which issue 20's worker exit was
    seen; without it that order, and the exit, came at one stop in several."""

    def __init__(self, server):
        self.server = server

    def stop(self) -> None:
        self.server.stop(pubsub_first=True)

    def start(self) -> None:
        self.server.start()

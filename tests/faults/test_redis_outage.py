"""Redis down, broker and cache alike: the public forms and the webhook keep answering at
once, nothing is lost, and the first sweeps after Redis is back send every email exactly
once. Redis here is a private redis-server the test really stops and starts again."""

import time
from collections import Counter

import pytest
from django.core.cache import cache
from django.urls import reverse

from common.models import Job
from contacts.models import OutboundEmail
from enquiries.models import Enquiry, SampleRequest
from orders.models import StripeEvent
from reports.search import SearchParams
from reports.services.seed import report_load_seed
from tests.faults.conftest import redis_cache
from tests.reports.orders_support import webhook_post
from tests.support.broker import broker_at, broker_unreachable
from tests.support.forms import form_started_token
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
SWEEP_SECONDS = 3
SAMPLES, ENQUIRIES = 100, 20


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def post_sample(client, report, n):
    data = {
        "name": f"Reader {n}",
        "email": f"reader{n}@pharma{n}.example",
        "company": f"Pharma {n}",
        "job_title": "Analyst",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(age_seconds=30),
    }
    url = reverse("enquiries:request-sample", args=[report.number])
    return client.post(url, data, REMOTE_ADDR="203.0.113.7")


def post_enquiry(client, report, n):
    data = {
        "type": "pricing",
        "question": f"Question number {n}?",
        "name": f"Asker {n}",
        "email": f"asker{n}@trials{n}.example",
        "company": f"Trials {n}",
        "job_title": "Buyer",
        "country": "FR",
        "consent": "on",
        "form_started": form_started_token(age_seconds=30),
    }
    url = reverse("enquiries:pre-order-enquiry", args=[report.number])
    return client.post(url, data, REMOTE_ADDR="203.0.113.7")


def test_with_redis_down_every_form_answers_at_once_and_each_email_goes_out_once_it_is_back(
    client, private_redis, start_worker, mailbox, settings
):
    broker, cache = private_redis.url(0), private_redis.url(1)
    settings.CACHES = redis_cache(cache)
    worker = start_worker(
        "outage",
        beat=True,
        CELERY_BROKER_URL=broker,
        CACHE_URL=cache,
        JOB_SWEEP_INTERVAL_SECONDS=str(SWEEP_SECONDS),
    )
    with broker_at(broker):
        private_redis.stop()
        report = report_load_seed().report
        install_rendered_bases(report)

        waits, statuses = [], Counter()
        for n in range(SAMPLES):
            response, seconds = timed(lambda n=n: post_sample(client, report, n))
            waits.append(seconds)
            statuses[response.status_code] += 1
        for n in range(ENQUIRIES):
            response, seconds = timed(lambda n=n: post_enquiry(client, report, n))
            waits.append(seconds)
            statuses[response.status_code] += 1

        assert statuses == {302: SAMPLES + ENQUIRIES}, statuses
        assert max(waits) < 2.0, f"slowest post took {max(waits):.2f}s"
        assert SampleRequest.objects.count() == SAMPLES
        assert Enquiry.objects.count() == ENQUIRIES
        assert mailbox.messages == []  # nothing could be sent

        private_redis.start()
        back = time.monotonic()
        wait_until(
            lambda: not Job.objects.filter(state="pending", dispatched_at__isnull=True).exists(),
            timeout=SWEEP_SECONDS * 2 + 30,  # the worker and beat reconnect, then sweep
            message="jobs held back by the outage were not published after Redis came back",
        )
        published_after = time.monotonic() - back

        expected = SAMPLES + 2 * ENQUIRIES  # a sample each; an acknowledgement and a notice
        wait_until(
            lambda: len(mailbox.messages) >= expected,
            timeout=240,
            interval=0.5,
            message=f"not every email arrived after the outage:\n{worker.tail()}",
        )
        worker.wait_idle()
    recipients = Counter(address for env in mailbox.envelopes for address in env.rcpt_tos)
    assert len(mailbox.messages) == expected
    assert all(count == 1 for address, count in recipients.items() if "sales" not in address)
    assert SampleRequest.objects.filter(status="emailed").count() == SAMPLES
    assert OutboundEmail.objects.exclude(status="sent").count() == 0
    print(
        f"\nFIGURE redis outage: {SAMPLES} samples + {ENQUIRIES} enquiries posted, slowest "
        f"{max(waits):.2f}s, median {sorted(waits)[len(waits) // 2]:.3f}s; held-back jobs "
        f"published {published_after:.1f}s after Redis came back; {expected} emails, each once"
    )


def test_the_webhook_answers_fast_with_the_broker_down_and_the_events_run_once_it_is_back(
    client, stripe, report_on_sale, celery_worker
):
    from tests.reports.orders_support import order_started

    order = order_started(client, report_on_sale, stripe)
    paid = stripe.session_pay(order.stripe_session_id, deliver=False)
    waits = []
    with broker_unreachable():
        for n in range(50):  # Stripe retrying, and other events of the same moment
            event = {**paid, "id": f"evt_outage_{n}"}
            response, seconds = timed(lambda event=event: webhook_post(client, stripe, event))
            assert response.status_code == 200
            waits.append(seconds)
    waits.sort()
    p99 = waits[int(len(waits) * 0.99) - 1]
    assert p99 < 1.0, f"webhook p99 {p99:.3f}s with the broker down"
    print(f"\nFIGURE webhook, broker down: p99 {p99:.3f}s, slowest {waits[-1]:.3f}s of 50")
    assert StripeEvent.objects.filter(status="pending").count() == 50

    from common import jobs

    jobs.sweep()  # what beat does every JOB_SWEEP_INTERVAL_SECONDS
    wait_until(
        lambda: not StripeEvent.objects.filter(status="pending").exists(),
        timeout=60,
        message="stored events were not processed once the broker was back",
    )
    order.refresh_from_db()
    assert order.status in ("paid", "fulfilled")
    assert order.events.filter(kind="paid").count() == 1


def test_the_catalogue_search_answers_with_the_cache_down_and_caches_again_once_it_is_back(
    client, private_redis, settings
):
    """The search's cache and its lock (reports/search/`_shared`) only save work: with Redis
    stopped every search is computed, right and at once (no wait for a lock it cannot take)."""
    settings.CACHES = redis_cache(private_redis.url(1))
    settings.CACHE_BREAKER_SECONDS = 0.5  # how long the cache is left alone after a failure
    report = report_load_seed().report
    words = report.market_name.split()[0]
    assert client.get("/", {"q": words}).context["page"].paginator.count == 1

    private_redis.stop()
    response, seconds = timed(lambda: client.get("/", {"q": words, "page": "1"}))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1
    assert [r.number for r in response.context["reports"]] == [report.number]
    assert seconds < 2.0, f"the search took {seconds:.2f}s with the cache down"

    private_redis.start()  # answers pings when it returns; it starts empty

    def cached_again():  # once the cache's breaker lets a request try it (common/breaker.py)
        assert client.get("/", {"q": words}).context["page"].paginator.count == 1
        return cache.get(f"catalogue-search:{SearchParams(q=words).key()}") is not None

    wait_until(cached_again, timeout=10, message="the search never used the cache again")

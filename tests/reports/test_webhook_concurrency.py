"""Stripe delivers the same event several times at once while the buyer reloads the
success page: a live server (threads, PostgreSQL) and a real worker must still produce one
fulfilment, one receipt and one download link."""

import threading
import urllib.request

import pytest

from contacts.models import OutboundEmail
from orders.models import Deliverable, Order, OrderEvent, StripeEvent
from tests.reports.orders_support import order_started
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def post_webhook(url, body, headers, results):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        results.append(response.status)


def get_page(url, results):
    with urllib.request.urlopen(url, timeout=30) as response:
        results.append(response.status)


def test_same_event_five_times_concurrently_plus_reloads_fulfils_once(
    celery_worker, mailbox, live_server, stripe, client, report_on_sale
):
    install_rendered_bases(report_on_sale)  # the base PDF, up front
    order = order_started(client, report_on_sale, stripe)
    event = stripe.session_pay(order.stripe_session_id, deliver=False)
    body, headers = stripe.signed_request(event)
    webhook = f"{live_server.url}/stripe/webhook/"
    success = f"{live_server.url}/purchase/complete/{order.reference}?session_id={order.stripe_session_id}"

    webhook_results, page_results = [], []
    jobs = [(post_webhook, (webhook, body, headers, webhook_results))] * 5
    jobs += [(get_page, (success, page_results))] * 3
    start = threading.Barrier(len(jobs))

    def run(function, args):
        start.wait()
        function(*args)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert webhook_results == [200] * 5 and page_results == [200] * 3

    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED,
        timeout=90,
        message=f"order not fulfilled; worker log:\n{celery_worker.tail()}",
    )
    messages = mailbox.wait_for(2, to=order.buyer_email, timeout=30)
    wait_until(lambda: StripeEvent.objects.get().status == StripeEvent.Status.PROCESSED)
    get_page(success, page_results)  # one more reload after everything settled
    wait_until(lambda: not OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT).exists())

    subjects = sorted(str(m["Subject"]) for m in mailbox.to(order.buyer_email))
    assert len(subjects) == 2, subjects
    assert subjects[0].startswith(f"Receipt for order {order.reference}")
    assert subjects[1].startswith("Your report is ready")
    assert messages  # both arrived through the real SMTP server
    assert StripeEvent.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.PAID).count() == 1
    assert Deliverable.objects.filter(order=order).count() == 1
    assert order.download_links.count() == 1
    assert OutboundEmail.objects.filter(dedupe_key=f"receipt:{order.reference}").count() == 1

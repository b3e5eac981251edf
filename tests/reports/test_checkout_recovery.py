"""Abandoned checkouts recovered (orders/services/recovery.py): Checkout asks for promotional
consent and a recovery link; an expired session marks the order abandoned and, only for a
buyer who opted in, schedules one reminder with Stripe's recovery link; paying through it
fulfils the same order once and marks it recovered."""

import re
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common import jobs
from common.models import Job
from contacts.models import MarketingConsent, OutboundEmail
from contacts.services.marketing import unsubscribe_token
from orders.models import Order, OrderEvent, StripeEvent
from orders.services import fulfilment, recovery
from tests.reports.orders_support import BUYER, order_started, webhook_deliver_and_process
from tests.support.broker import broker_unreachable
from tests.support.jobs import run_job
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

REMINDERS = {"template": recovery.REMINDER_TEMPLATE}


def reminders():
    return OutboundEmail.objects.filter(**REMINDERS)


def expire(stripe, order, *, consent: str | None, deliver: bool = False) -> dict:
    """The buyer answers Checkout's promotional box (or never sees it), then leaves; the
    session expires. Returns the `checkout.session.expired` event."""
    if consent:
        stripe.session_consent(order.stripe_session_id, consent)
    stripe.session_expire(order.stripe_session_id, deliver=deliver)
    event = stripe.events[-1]
    assert event["type"] == "checkout.session.expired"
    return event


@pytest.mark.django_db
def test_checkout_sessions_ask_for_a_recovery_link_and_promotional_consent(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    params = next(r for r in stripe.requests if r["path"] == "/v1/checkout/sessions")["params"]
    assert params["after_expiration"] == {
        "recovery": {"enabled": "true", "allow_promotion_codes": "true"}
    }
    assert params["consent_collection"] == {"promotions": "auto"}
    session = stripe.sessions[order.stripe_session_id]
    assert session["after_expiration"]["recovery"]["url"] is None  # given on expiry


@pytest.mark.django_db
def test_expired_checkout_of_a_consenting_buyer_schedules_one_reminder_however_often_delivered(
    client, stripe, report_on_sale, settings
):
    settings.CHECKOUT_REMINDER_HOURS = 3
    order = order_started(client, report_on_sale, stripe)
    event = expire(stripe, order, consent="opt_in")
    for _ in range(3):
        webhook_deliver_and_process(client, stripe, event)
    order.refresh_from_db()
    assert order.status == Order.Status.ABANDONED and order.closed_at
    assert order.promotions_consent == "opt_in"
    assert order.recovery_url == f"{stripe.base_url}/recover/{order.stripe_session_id}"
    assert order.abandoned_session_id == order.stripe_session_id
    job = Job.objects.get(kind=recovery.REMINDER_JOB)
    assert job.target_id == order.pk and job.state == Job.State.PENDING
    expected = timezone.now() + timedelta(hours=3)
    assert expected - timedelta(minutes=5) < job.due_at <= expected
    assert job.dispatched_at is None  # hours away: left to the sweeper, not the broker
    assert StripeEvent.objects.count() == 1 and not reminders().exists()

    assert run_job(recovery.REMINDER_JOB, order.pk) == "done"
    assert run_job(recovery.REMINDER_JOB, order.pk) == "skipped"
    email = reminders().get()
    assert email.to == BUYER["email"] and email.dedupe_key == f"checkout-reminder:{order.reference}"
    assert order.recovery_url in email.body_text and order.reference in email.subject
    fulfilment.order_checkout_expired(order=order, session=event["data"]["object"])
    assert Job.objects.filter(kind=recovery.REMINDER_JOB).count() == 1
    assert reminders().count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("consent", ["opt_out", None])
def test_expired_checkout_of_a_buyer_who_did_not_agree_sends_no_reminder(
    client, stripe, report_on_sale, consent
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent=consent))
    order.refresh_from_db()
    assert order.status == Order.Status.ABANDONED
    assert order.promotions_consent == (consent or "")
    assert not Job.objects.filter(kind=recovery.REMINDER_JOB).exists()
    note = order.events.get(kind=OrderEvent.Kind.RECOVERY_REMINDER).message
    assert note == "No reminder: no consent to promotional email."
    assert not reminders().exists()


@pytest.mark.django_db
def test_reminder_is_not_sent_once_the_buyer_has_bought_the_report(client, stripe, report_on_sale):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent="opt_in"))
    again = order_started(client, report_on_sale, stripe)  # they came back by themselves
    paid = stripe.session_pay(again.stripe_session_id, deliver=False)
    webhook_deliver_and_process(client, stripe, paid)
    assert run_job(recovery.REMINDER_JOB, order.pk) == "done"
    assert not reminders().exists()
    note = order.events.filter(kind=OrderEvent.Kind.RECOVERY_REMINDER).last().message
    assert note == "Not sent: the buyer has bought this report since."


@pytest.mark.django_db
def test_a_recovered_session_without_our_reference_is_matched_by_recovered_from(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent="opt_in"))
    order.refresh_from_db()
    recovered = stripe.session_recover(order.abandoned_session_id, keep_reference=False)
    assert recovered["recovered_from"] == order.abandoned_session_id
    assert recovered["client_reference_id"] is None
    completed = stripe.session_pay(recovered["id"], deliver=False)
    for _ in range(2):
        row = webhook_deliver_and_process(client, stripe, completed)
    assert row.order == order
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.recovered_at
    assert order.stripe_session_id == recovered["id"]
    assert order.events.filter(kind=OrderEvent.Kind.RECOVERED).count() == 1
    assert OutboundEmail.objects.filter(template="orders/email/order_receipt").count() == 1
    assert Order.objects.count() == 1


# --- On the real stack: the live site, Stripe's signed webhooks, the worker, SMTP -----------


def _advance_clock_to(job: Job) -> None:
    """The reminder's hours pass: its job becomes due, and the sweeper (as beat runs it)
    publishes it to the worker."""
    Job.objects.filter(pk=job.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    assert jobs.sweep() >= 1


@pytest.mark.django_db(transaction=True)
def test_expired_checkout_reminds_only_a_consenting_buyer_once_and_the_recovery_link_fulfils_the_same_order(  # noqa: E501
    celery_worker, mailbox, live_server, client, stripe, report_on_sale, settings
):
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    install_rendered_bases(report_on_sale)
    keen = order_started(client, report_on_sale, stripe)
    shy = order_started(client, report_on_sale, stripe, email="shy@acme-pharma.example")

    for order, consent in ((keen, "opt_in"), (shy, None)):
        event = expire(stripe, order, consent=consent, deliver=True)
        assert stripe.event_send(event) == 200 and stripe.event_send(event) == 200  # 3 in all
    wait_until(
        lambda: StripeEvent.objects.filter(status="processed").count() == 2,
        message="the two expiries were not processed",
    )
    keen.refresh_from_db()
    shy.refresh_from_db()
    assert keen.status == shy.status == Order.Status.ABANDONED
    job = Job.objects.get(kind=recovery.REMINDER_JOB)  # the consenting buyer's only
    assert job.target_id == keen.pk and job.state == Job.State.PENDING
    assert job.due_at > timezone.now() + timedelta(minutes=50)  # CHECKOUT_REMINDER_HOURS=1

    _advance_clock_to(job)
    (reminder,) = mailbox.wait_for(1, to=BUYER["email"], timeout=60)
    body = reminder.get_body(preferencelist=("plain",)).get_content()
    assert keen.recovery_url in body and keen.reference in str(reminder["Subject"])
    # Marketing email (contacts/services/marketing.py): RFC 8058 one-click unsubscribe.
    unsubscribe = re.search(r"<([^>]+)>", reminder["List-Unsubscribe"]).group(1)
    assert "/email/unsubscribe/" in unsubscribe and unsubscribe in body  # the worker's SITE_URL
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    wait_until(lambda: Job.objects.get(pk=job.pk).state == Job.State.DONE)
    jobs.sweep()  # the sweeper again, and the event once more: nothing new
    assert stripe.event_send(stripe.events[0]) == 200
    celery_worker.wait_idle()
    assert reminders().count() == 1 and not mailbox.to("shy@acme-pharma.example")

    browser = requests.Session()
    page = browser.get(keen.recovery_url)  # Stripe's link: a new session, then its page
    assert page.url.startswith(f"{stripe.base_url}/pay/cs_test_")
    recovered_id = page.url.rsplit("/", 1)[-1]
    assert stripe.sessions[recovered_id]["recovered_from"] == keen.abandoned_session_id
    back = browser.post(page.url, data={"outcome": "card"})
    assert back.status_code == 200 and keen.reference in back.text
    wait_until(
        lambda: Order.objects.get(pk=keen.pk).status == Order.Status.FULFILLED,
        timeout=120,
        message="the recovered order was not fulfilled",
    )
    assert stripe.event_send(stripe.events[-1]) == 200  # completed, delivered again
    celery_worker.wait_idle()
    keen.refresh_from_db()
    assert keen.recovered_at and keen.stripe_session_id == recovered_id
    assert Order.objects.count() == 2 and keen.deliverable
    kinds = list(keen.events.values_list("kind", flat=True))
    assert kinds.count(OrderEvent.Kind.PAID) == 1 and kinds.count(OrderEvent.Kind.RECOVERED) == 1
    wait_until(lambda: len(mailbox.to(BUYER["email"])) == 3)  # reminder, receipt, link
    subjects = sorted(str(m["Subject"]) for m in mailbox.to(BUYER["email"]))
    assert sum("Receipt" in s for s in subjects) == 1


@pytest.mark.django_db
def test_the_success_page_of_a_recovered_session_confirms_the_order_before_the_webhook(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent="opt_in"))
    order.refresh_from_db()
    recovered = stripe.session_recover(order.abandoned_session_id)
    stripe.session_pay(recovered["id"], deliver=False)  # the webhook has not arrived yet
    stranger = type(client)()  # the link was opened in another browser (from the email)
    page = stranger.get(f"/purchase/complete/{order.reference}?session_id={recovered['id']}")
    assert page.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.recovered_at
    assert order.stripe_session_id == recovered["id"]
    made_up = stranger.get(f"/purchase/complete/{order.reference}?session_id=cs_test_madeup")
    assert made_up.status_code == 404


# --- The reminder is marketing: consent from Checkout's box, one-click unsubscribe ----------


def one_click_unsubscribe(url: str) -> None:
    """What a mail client does with List-Unsubscribe-Post (RFC 8058): a raw POST, no cookie,
    no CSRF token, no confirmation page."""
    response = Client(enforce_csrf_checks=True).post(
        url.removeprefix(django_settings.SITE_URL),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200


def reminder_notes(order) -> list[str]:
    kind = OrderEvent.Kind.RECOVERY_REMINDER
    return list(order.events.filter(kind=kind).order_by("pk").values_list("message", flat=True))


@pytest.mark.django_db
def test_checkouts_promotional_box_is_recorded_once_as_marketing_consent_from_stripe_checkout(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    event = expire(stripe, order, consent="opt_in")
    for _ in range(3):
        webhook_deliver_and_process(client, stripe, event)
    consent = MarketingConsent.objects.get(contact=order.contact)
    assert consent.granted and consent.purpose == "marketing" and consent.source == "checkout"
    assert order.stripe_session_id in consent.wording and consent.version == "stripe-checkout"

    shy = order_started(client, report_on_sale, stripe, email="shy@acme-pharma.example")
    webhook_deliver_and_process(client, stripe, expire(stripe, shy, consent="opt_out"))
    assert not MarketingConsent.objects.filter(contact__email="shy@acme-pharma.example").exists()

    payer = order_started(client, report_on_sale, stripe, email="payer@acme-pharma.example")
    stripe.session_consent(payer.stripe_session_id, "opt_in")
    paid = stripe.session_pay(payer.stripe_session_id, deliver=False)
    for _ in range(2):
        webhook_deliver_and_process(client, stripe, paid)
    payer.refresh_from_db()
    assert payer.status == Order.Status.PAID
    (granted,) = MarketingConsent.objects.filter(contact=payer.contact)
    assert granted.granted and granted.source == "checkout"


@pytest.mark.django_db
def test_a_buyer_who_unsubscribed_after_the_reminder_was_scheduled_is_not_sent_it(
    client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent="opt_in"))
    assert Job.objects.get(kind=recovery.REMINDER_JOB).state == Job.State.PENDING
    order.refresh_from_db()
    # The link every marketing email to them carries (a follow-up's, an alert's).
    token = unsubscribe_token(contact=order.contact, purpose="marketing")
    one_click_unsubscribe(reverse("contacts:unsubscribe", args=[token]))

    assert run_job(recovery.REMINDER_JOB, order.pk) == "done"
    assert not reminders().exists()
    assert reminder_notes(order)[-1].startswith("Not sent: Unsubscribed (One-click unsubscribe")


@pytest.mark.django_db(transaction=True)
def test_a_reminder_already_queued_is_suppressed_when_the_buyer_unsubscribes_by_one_click(
    celery_worker, mailbox, client, stripe, report_on_sale
):
    order = order_started(client, report_on_sale, stripe)
    webhook_deliver_and_process(client, stripe, expire(stripe, order, consent="opt_in"))
    with broker_unreachable():  # queued, waiting for a busy mail queue
        assert run_job(recovery.REMINDER_JOB, order.pk) == "done"
    email = reminders().get()
    assert email.status == OutboundEmail.Status.QUEUED and email.purpose == "marketing"
    unsubscribe = re.search(r"(https?://\S+/email/unsubscribe/\S+)", email.body_text).group(1)
    one_click_unsubscribe(unsubscribe)

    assert jobs.sweep() >= 1  # the broker is back: the email's send job reaches the worker
    wait_until(
        lambda: OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.SUPPRESSED,
        timeout=60,
        message="the queued reminder was not suppressed",
    )
    celery_worker.wait_idle()
    assert mailbox.to(BUYER["email"]) == []
    email.refresh_from_db()
    assert email.sent_at is None and email.last_error.startswith("Unsubscribed (One-click")
    note = reminder_notes(order)[-1]
    assert note.startswith("Reminder suppressed at send time: Unsubscribed (One-click")

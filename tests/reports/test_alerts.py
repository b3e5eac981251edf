"""Alerts for new reports on the real stack (client, Celery worker, aiosmtpd), with the
test's clock passed to the digest (`alerts_digest_send(now=…)`)."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import MarketingConsent, OutboundEmail
from reports.models import AlertSubscription, Report
from reports.services.alerts import alerts_digest_send
from tests.factories import CategoryFactory, ReportFactory

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "li.wei@biotech.example"


@pytest.fixture
def categories(db):
    return (
        CategoryFactory(name="Oncology", slug="oncology"),
        CategoryFactory(name="Medical Devices", slug="medical-devices"),
    )


def published(category, title, at) -> Report:
    return ReportFactory(category=category, title=title, published_at=at)


def test_the_form_is_on_category_and_report_pages_and_works_without_javascript(client, categories):
    oncology, _ = categories
    report = published(oncology, "Cancer Diagnostics Market", timezone.now())
    for url in (reverse("reports:catalogue") + "?category=oncology", report.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "Tell me about new reports in Oncology" in page
        assert f'action="{reverse("reports:alert-subscribe")}"' in page
        assert 'name="category" value="oncology"' in page


def test_sign_up_sends_nothing_until_confirmed_then_one_digest_of_that_category_only(
    categories, mailbox, celery_worker
):
    oncology, devices = categories
    before = published(oncology, "Older Oncology Market", timezone.now() - timedelta(days=3))
    # A plain post, as the cached page's form sends it (no CSRF cookie or token).
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        reverse("reports:alert-subscribe"), {"email": EMAIL, "category": "oncology"}
    )
    assert response.status_code == 200 and b"Check your inbox" in response.content
    confirmation = mailbox.wait_for(1, to=EMAIL, timeout=60)[0]
    assert confirmation["List-Unsubscribe"] is None  # asked for, not marketing

    # Not confirmed: reports come out, the digest runs, nothing is sent.
    published(oncology, "Unconfirmed-time Oncology Market", timezone.now())
    assert alerts_digest_send(now=timezone.now() + timedelta(days=1)) == 0
    assert not MarketingConsent.objects.exists()

    link = re.search(
        r"(https?://\S+/alerts/confirm/\S+)",
        confirmation.get_body(preferencelist=("plain",)).get_content(),
    ).group(1)
    path = link.removeprefix(settings.SITE_URL)
    assert b"Yes, start the alerts" in browser.get(path).content
    assert not AlertSubscription.objects.get().is_active  # a GET (a link scanner) confirms nothing
    browser = Client()
    browser.get(path)
    token = browser.cookies["csrftoken"].value
    browser.post(path, {"csrfmiddlewaretoken": token})
    subscription = AlertSubscription.objects.get()
    assert subscription.is_active
    consent = MarketingConsent.objects.get()
    assert consent.purpose == "alerts" and consent.topic == "oncology" and consent.granted

    fresh = published(oncology, "Liquid Biopsy Market", timezone.now() + timedelta(minutes=1))
    other = published(devices, "Surgical Robots Market", timezone.now() + timedelta(minutes=1))
    now = timezone.now() + timedelta(hours=1)
    assert alerts_digest_send(now=now) == 1
    assert alerts_digest_send(now=now + timedelta(days=2)) == 0  # at most weekly
    digest = mailbox.wait_for(2, to=EMAIL, timeout=60)[1]
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert fresh.title in text
    assert other.title not in text and before.title not in text
    assert "Unconfirmed-time" not in text
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    celery_worker.wait_idle()
    assert len(mailbox.to(EMAIL)) == 2
    assert OutboundEmail.objects.filter(purpose="alerts").count() == 1

    # Its own unsubscribe: one POST ends the alert.
    unsubscribe = re.search(r"<([^>]+)>", digest["List-Unsubscribe"]).group(1)
    raw = Client(enforce_csrf_checks=True)
    raw.post(
        unsubscribe.removeprefix(settings.SITE_URL),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert AlertSubscription.objects.get().ended_at is not None
    published(oncology, "Later Oncology Market", timezone.now() + timedelta(days=8))
    assert alerts_digest_send(now=timezone.now() + timedelta(days=9)) == 0

"""Scheduled housekeeping: each job is in beat's schedule with its own interval setting and
routed to a queue a worker consumes; download links dead for long are purged (the download log
stays); expired sessions are cleared."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from common.tasks import sessions_clear_expired
from orders.models import DownloadLink, DownloadLog
from orders.services import downloads
from orders.tasks import download_links_purge
from smosite import celery_app
from tests.reports.orders_support import fulfilled_order

JOBS = {
    "stripe-reconcile": ("reports.tasks.stripe_reconcile", "STRIPE_RECONCILE_INTERVAL_SECONDS"),
    "download-links-purge": (
        "reports.tasks.download_links_purge",
        "DOWNLOAD_LINK_PURGE_INTERVAL_SECONDS",
    ),
    "sessions-clear-expired": (
        "common.tasks.sessions_clear_expired",
        "SESSION_CLEAR_INTERVAL_SECONDS",
    ),
    "related-reports-refresh": (
        "reports.tasks.related_reports_refresh",
        "RELATED_REFRESH_INTERVAL_SECONDS",
    ),
    "inbound-mailbox-poll": (
        "enquiries.tasks.inbound_mailbox_poll",
        "INBOUND_POLL_INTERVAL_SECONDS",
    ),
    "followups-send-due": (
        "enquiries.tasks.followups_send_due",
        "FOLLOWUP_SWEEP_INTERVAL_SECONDS",
    ),
    "alerts-digest-send": ("reports.tasks.alerts_digest_send", "ALERT_DIGEST_INTERVAL_SECONDS"),
}


@pytest.mark.parametrize("entry", sorted(JOBS))
def test_each_job_is_scheduled_at_its_setting_and_routed_to_a_consumed_queue(entry, settings):
    task_name, interval_setting = JOBS[entry]
    scheduled = celery_app.conf.beat_schedule[entry]
    assert scheduled["task"] == task_name
    assert scheduled["schedule"] == getattr(settings, interval_setting)
    celery_app.loader.import_default_modules()
    assert task_name in celery_app.tasks
    queue = celery_app.amqp.router.route({}, task_name)["queue"].name
    assert queue in settings.CELERY_QUEUES_ALL.split(",")


@pytest.fixture
def report(db):
    from decimal import Decimal

    from tests.factories import LicenceFactory, ReportFactory

    report = ReportFactory()
    LicenceFactory(report=report, kind="single", price=Decimal("3900"))
    return report


@pytest.mark.django_db
def test_links_dead_for_longer_than_the_setting_are_purged_and_the_download_log_kept(
    report, settings
):
    settings.DOWNLOAD_LINK_PURGE_AFTER_DAYS = 90
    order, _ = fulfilled_order(report)
    used = order.download_links.get()
    downloads.download_claim(link=used, ip="192.0.2.0", user_agent="test")
    long_ago = timezone.now() - timedelta(days=91)
    DownloadLink.objects.filter(pk=used.pk).update(expires_at=long_ago)
    revoked_long_ago, _ = downloads.download_link_create(order=order)
    DownloadLink.objects.filter(pk=revoked_long_ago.pk).update(revoked_at=long_ago)
    recently_expired, _ = downloads.download_link_create(order=order)
    DownloadLink.objects.filter(pk=recently_expired.pk).update(
        expires_at=timezone.now() - timedelta(days=89)
    )
    live, _ = downloads.download_link_create(order=order)

    assert download_links_purge() == 2
    assert set(order.download_links.values_list("pk", flat=True)) == {
        recently_expired.pk,
        live.pk,
    }
    log = DownloadLog.objects.get(order=order)
    assert log.link is None and log.ip == "192.0.2.0"
    assert download_links_purge() == 0


@pytest.mark.django_db
def test_expired_sessions_are_cleared_and_live_ones_kept():
    live, expired = SessionStore(), SessionStore()
    live["visit"] = expired["visit"] = "x"
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    sessions_clear_expired()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]

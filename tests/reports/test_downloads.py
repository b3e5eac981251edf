"""Download links: signed, expiring, counted, revocable, bound to their order; a GET never
uses a download (mail scanners open links), the POST streams the file and is logged."""

import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connections
from django.test import Client
from django.utils import timezone

from contacts.models import OutboundEmail
from orders.models import DownloadLink, DownloadLog, Order
from orders.services import downloads, refunds
from tests.reports.orders_support import fulfilled_order, path_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(report_on_sale):
    order, url = fulfilled_order(report_on_sale)
    return order, path_of(url)


def download(client, path, **headers):
    return client.post(path, headers={"User-Agent": "Mozilla/5.0 Test", **headers})


def test_link_page_offers_the_download_without_using_it(client, delivered):
    order, path = delivered
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Download the PDF" in html and "5 downloads left" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert DownloadLink.objects.get().download_count == 0


def test_download_streams_the_private_file_and_logs_time_ip_and_agent(client, delivered):
    order, path = delivered
    response = download(client, path, **{"X-Forwarded-For": "198.51.100.23"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"{order.reference}-{order.report.slug}.pdf" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    log = DownloadLog.objects.get()
    assert (log.order, log.ip, log.user_agent) == (order, "127.0.0.0", "Mozilla/5.0 Test")
    assert DownloadLink.objects.get().download_count == 1


def test_behind_nginx_the_site_counts_the_download_and_nginx_sends_the_file(
    client, delivered, settings
):
    """DOWNLOAD_ACCEL_REDIRECT: the answer names the file and where nginx finds it; the bytes
    never pass through the web worker. (The downloads benchmark, whose quick run is in this
    suite, sends the same answer through a real nginx and checks the PDF that arrives.)"""
    settings.DOWNLOAD_ACCEL_REDIRECT = "/_private/"
    order, path = delivered
    order.deliverable.path = "orders/2026/SMO 1/a+b.pdf"
    storages["private"].save(order.deliverable.path, ContentFile(b"%PDF-1.7 test"))
    order.deliverable.save()
    response = download(client, path)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_private/orders/2026/SMO%201/a%2Bb.pdf"
    assert response.content == b""
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"{order.reference}-{order.report.slug}.pdf" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    assert DownloadLink.objects.get().download_count == 1
    assert DownloadLog.objects.count() == 1


@pytest.mark.parametrize("accel", ["", "/_private/"])
def test_a_missing_file_is_a_404_and_costs_no_download(client, delivered, settings, accel):
    settings.DOWNLOAD_ACCEL_REDIRECT = accel
    order, path = delivered
    storages["private"].delete(order.deliverable.path)
    response = download(client, path)
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response
    assert DownloadLink.objects.get().download_count == 0
    assert not DownloadLog.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "x" + token,  # payload changed
        lambda token: token.split(".")[0],  # signature removed
        lambda token: "",
    ],
)
def test_tampered_token_is_refused(client, delivered, mangle):
    order, path = delivered
    token = path.rsplit("/", 1)[-1]
    bad = f"/download/{order.reference}/{mangle(token) or 'nothing'}"
    assert client.get(bad).status_code == 404
    assert download(client, bad).status_code == 404
    assert not DownloadLog.objects.exists()


def test_another_orders_token_does_not_open_this_order(client, report_on_sale, delivered):
    order, path = delivered
    other, other_url = fulfilled_order(report_on_sale, email="bob@beta-bio.example")
    token_of_other = path_of(other_url).rsplit("/", 1)[-1]
    assert download(client, f"/download/{order.reference}/{token_of_other}").status_code == 404
    token_of_this = path.rsplit("/", 1)[-1]
    assert download(client, f"/download/{other.reference}/{token_of_this}").status_code == 404
    assert not DownloadLog.objects.exists()


def test_expired_link_leads_to_a_fresh_link_sent_only_to_the_purchase_email(
    client, delivered, mailbox
):
    order, path = delivered
    DownloadLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = client.get(path)
    assert page.status_code == 410
    html = page.content.decode()
    assert "This link expired" in html and "Email me a new link" in html
    assert "j•••@acme-pharma.example" in html
    assert download(client, path).status_code == 410 and not DownloadLog.objects.exists()

    renewed = client.post(f"{path}/renew", {"email": "attacker@evil.example"}, follow=True)
    assert (
        "We have sent a new download link to j•••@acme-pharma.example" in renewed.content.decode()
    )
    email = OutboundEmail.objects.get(template="orders/email/order_download_link")
    assert email.to == order.buyer_email
    old, new = DownloadLink.objects.order_by("created_at")
    assert old.revoke_reason == DownloadLink.RevokeReason.SUPERSEDED and new.revoked_at is None
    assert "/[redacted]" in email.body_text  # the mail log never holds the live link
    fresh = path_of(downloads.download_link_url(link=new))
    assert download(client, fresh).status_code == 200


def test_link_over_its_download_count_is_refused(client, delivered, settings):
    order, path = delivered
    DownloadLink.objects.update(max_downloads=2)
    assert [download(client, path).status_code for _ in range(3)] == [200, 200, 410]
    page = client.get(path).content.decode()
    assert "used 2 times, its limit" in page
    assert DownloadLog.objects.count() == 2


def test_concurrent_downloads_never_exceed_the_limit(transactional_db, report_on_sale):
    order, url = fulfilled_order(report_on_sale)
    DownloadLink.objects.update(max_downloads=3)
    statuses = []

    def fetch():
        try:
            statuses.append(download(Client(), path_of(url)).status_code)
        finally:
            connections.close_all()  # this thread's connection; else it outlives the test DB

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 3 + [410] * 5
    assert DownloadLink.objects.get().download_count == 3 == DownloadLog.objects.count()


def test_refund_revokes_the_link_and_the_page_says_why(client, stripe, delivered):
    order, path = delivered
    refunds.order_refund_record(order=order, amount_refunded=390000, fully=True)
    page = client.get(path)
    assert page.status_code == 410
    html = page.content.decode()
    assert "Access withdrawn: this order was refunded" in html
    assert "Email me a new link" not in html
    assert download(client, path).status_code == 410
    assert client.post(f"{path}/renew").status_code == 410
    assert DownloadLink.objects.get().revoke_reason == DownloadLink.RevokeReason.REFUNDED


def test_dispute_suspends_the_link(client, delivered):
    order, path = delivered
    refunds.order_dispute_record(order=order, dispute={"id": "dp_1", "reason": "fraudulent"})
    html = client.get(path).content.decode()
    assert "the payment for this order is disputed" in html
    assert download(client, path).status_code == 410


def test_link_revoked_between_page_and_click_is_refused(client, delivered):
    order, path = delivered
    assert client.get(path).status_code == 200
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED)
    assert download(client, path).status_code == 410 and not DownloadLog.objects.exists()


def test_staff_resend_supersedes_old_links_and_extend_renews_the_live_link(delivered):
    order, _ = delivered
    link = DownloadLink.objects.get()
    DownloadLink.objects.update(expires_at=timezone.now() + timedelta(hours=1), download_count=4)
    assert downloads.download_links_extend(order=order) == 1
    link.refresh_from_db()
    assert link.expires_at > timezone.now() + timedelta(days=6)
    assert link.max_downloads == 9 and downloads.download_link_state(link=link) == "usable"

    downloads.download_link_reissue(order=order)
    link.refresh_from_db()
    assert link.revoke_reason == DownloadLink.RevokeReason.SUPERSEDED
    assert DownloadLink.objects.filter(revoked_at__isnull=True).count() == 1
    assert order.events.filter(kind="link_issued").count() == 1


def test_fresh_link_requests_are_rate_limited_per_order(client, delivered, settings):
    order, path = delivered
    settings.DOWNLOAD_RENEW_LIMIT_PER_DAY = 1
    DownloadLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert client.post(f"{path}/renew").status_code == 302
    # the old link is superseded now; asking again from it is still "renewable" but limited
    assert client.post(f"{path}/renew").status_code == 429
    assert OutboundEmail.objects.count() == 1

"""A buyer's download token stays secret: the mail log stores the email with the link
masked (built at send time), no log line carries it, and a link that stopped working (expired, used up, revoked) never works again,
whatever staff press."""

import io
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import OutboundEmail
from contacts.services import outbox as mail
from contacts.services.outbox import email_resend
from orders.models import DownloadLink, Order
from orders.services import downloads, refunds
from tests.enquiries.test_privacy import text_values_mentioning
from tests.factories import LicenceFactory
from tests.reports.orders_support import fulfilled_order, link_in, path_of
from tests.support.jobs import run_job
from tests.support.staff import sales_member, superuser

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered():
    """A fulfilled order whose link was emailed the way fulfilment does it."""
    order, _ = fulfilled_order(LicenceFactory(kind="single").report)
    link = downloads.download_link_send(order=order, first=True)
    email = OutboundEmail.objects.get(template="orders/email/order_download_link")
    return order, link, email, path_of(downloads.download_link_url(link=link))


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def sent_through_smtp(settings, smtp_server):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    }


# --- The mail log ----------------------------------------------------------------------------


def test_no_stored_text_holds_the_live_download_token(delivered):
    order, _link, email, path = delivered
    assert text_values_mentioning(token_of(path)) == []
    assert f"/download/{order.reference}/[redacted]" in email.body_text
    assert f"/download/{order.reference}/[redacted]" in email.body_html


@pytest.mark.parametrize("staff", [sales_member, superuser])
def test_the_mail_log_shows_the_masked_body_to_anyone_who_may_read_it(client, delivered, staff):
    order, _link, email, path = delivered
    client.force_login(staff())
    html = client.get(f"/admin/contacts/outboundemail/{email.pk}/change/").content.decode()
    assert "Download it here" in html and f"/download/{order.reference}/[redacted]" in html
    assert token_of(path) not in html


def test_the_sent_email_carries_a_working_link_and_so_does_a_resend(
    client, delivered, settings, smtp_server, mailbox
):
    """Built at send time from the link's seed: the buyer gets the real link, the log
    keeps the masked one, and a re-send from the log still works."""
    _order, _link, email, path = delivered
    sent_through_smtp(settings, smtp_server)
    assert run_job(mail.JOB, email.pk) == "done"
    assert email_resend(email=email) is True
    assert run_job(mail.JOB, email.pk) == "done"
    for message in mailbox.wait_for(2):
        assert path_of(link_in(message)) == path
        html = message.get_body(preferencelist=("html",)).get_content()
        assert f'href="{downloads.download_link_url(link=_link)}"' in html
    assert client.get(path).status_code == 200
    email.refresh_from_db()
    assert token_of(path) not in email.body_text + email.body_html


def test_an_email_whose_link_cannot_be_built_fails_with_a_clear_reason(
    delivered, settings, smtp_server, mailbox
):
    """A link made before links had seeds (or purged since): nothing to fill in."""
    _order, link, email, _path = delivered
    sent_through_smtp(settings, smtp_server)
    DownloadLink.objects.filter(pk=link.pk).update(token_seed="")
    assert run_job(mail.JOB, email.pk) == "failed"
    email.refresh_from_db()
    assert email.status == "failed" and "send a fresh link from the order" in email.last_error
    assert mailbox.messages == []


def test_other_emails_stay_readable_to_sales(client):
    from contacts.services.outbox import email_queue

    email = email_queue(to="jane@acme.example", template="tests/email/test_message", context={})
    client.force_login(sales_member())
    html = client.get(f"/admin/contacts/outboundemail/{email.pk}/change/").content.decode()
    assert email.body_text.split()[0] in html


# --- Logs ------------------------------------------------------------------------------------


def test_the_410_of_an_expired_link_is_logged_without_its_token(client, delivered, caplog):
    order, _link, _email, path = delivered
    DownloadLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(path).status_code == 410
    assert f"/download/{order.reference}/[redacted]" in caplog.text
    assert token_of(path) not in caplog.text
    assert all(token_of(path) not in repr(getattr(r, "request", "")) for r in caplog.records)


@pytest.mark.parametrize("logger_name", ["django.server", "gunicorn.access", "django.request"])
def test_request_lines_are_redacted_for_every_handler(logger_name):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        logger.warning(
            '"%s" %s',
            "GET /download/SMO-2026-000001/s3cr3t.s1gn/renew?x=1 HTTP/1.1",
            "410",
        )
        logger.warning("GET /enquiry/sample/st4tus /purchase/1?quote=q.u.o.t.e&licence=multi")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    for secret in ("s3cr3t", "s1gn", "st4tus", "q.u.o.t.e"):
        assert secret not in written
    assert "/download/SMO-2026-000001/[redacted]/renew" in written
    assert "licence=multi" in written


def test_the_configured_handlers_redact_urls_from_any_logger():
    """Records from our own loggers reach the handlers LOGGING configured on the root."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "LOGGING configures a console handler on the root logger"
    handler = handlers[0]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger("reports.anything").warning("see /download/SMO-1/t0ken.sig")
    finally:
        handler.setStream(previous)
    assert "t0ken" not in stream.getvalue() and "[redacted]" in stream.getvalue()


# --- "Extend" never revives a link ------------------------------------------------------------


def extend_as_staff(client, order):
    client.force_login(superuser())
    return client.post(f"/admin/orders/order/{order.pk}/extend/", follow=True)


def test_extend_leaves_an_expired_link_expired(client, delivered):
    order, link, _email, path = delivered
    DownloadLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(days=1))
    page = extend_as_staff(client, order)
    assert "stay closed" in page.content.decode()
    assert client.get(path).status_code == 410
    assert not order.events.filter(kind="link_extended").exists()


def test_extend_leaves_a_used_up_link_used_up(client, delivered):
    order, link, _email, path = delivered
    DownloadLink.objects.filter(pk=link.pk).update(download_count=link.max_downloads)
    extend_as_staff(client, order)
    link.refresh_from_db()
    assert downloads.download_link_state(link=link) == downloads.LinkState.EXHAUSTED
    assert client.get(path).status_code == 410


@pytest.mark.parametrize("withdraw", ["refund", "dispute"])
def test_extend_leaves_a_revoked_link_revoked(client, delivered, withdraw):
    order, link, _email, path = delivered
    if withdraw == "refund":
        refunds.order_refund_record(order=order, amount_refunded=390000, fully=True)
    else:
        refunds.order_dispute_record(order=order, dispute={"id": "dp_1"})
    extend_as_staff(client, order)
    # Even with the order put back to fulfilled by hand, the revoked link stays revoked.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FULFILLED)
    extend_as_staff(client, order)
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert client.get(path).status_code == 410


def test_extend_renews_the_live_link(client, delivered):
    order, link, _email, path = delivered
    DownloadLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    extend_as_staff(client, order)
    link.refresh_from_db()
    assert link.expires_at > timezone.now() + timedelta(days=6)
    assert client.get(path).status_code == 200
    assert order.events.filter(kind="link_extended").count() == 1


def test_the_migration_masks_the_links_of_emails_stored_before():
    """reports 0008 runs on the models as they were then (the outbox still in enquiries,
    order emails under reports/email/): its function is given that state's apps."""
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    name = "0008_download_link_seed_masked_mail"
    migration = import_module(f"reports.migrations.{name}")
    then = MigrationLoader(connection).project_state(("reports", name), at_end=False).apps
    order, url = fulfilled_order(LicenceFactory(kind="single").report)
    email = OutboundEmail.objects.create(
        to=order.buyer_email,
        from_email="shop@localhost",
        subject="Your report",
        template=migration.TEMPLATE,
        body_text=f"Download it here:\n{url}\n",
        body_html=f'<a href="{url}">Download</a>',
        message_id=OutboundEmail.new_message_id(),
    )
    migration.mail_log_links_mask(then, None)
    email.refresh_from_db()
    assert migration.TEMPLATE == "reports/email/order_download_link"
    assert token_of(path_of(url)) not in email.body_text + email.body_html
    assert f"/download/{order.reference}/[redacted]" in email.body_text
    assert f"/download/{order.reference}/[redacted]" in email.body_html

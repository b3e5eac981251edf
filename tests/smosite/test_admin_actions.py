"""Bulk admin actions check the same permission as the per-object buttons: a Sales member
(view-only on orders, the mail log and report documents) who POSTs an action gets 403 and
nothing changes; a superuser runs it."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.utils import timezone

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services.outbox import email_queue
from orders.models import DownloadLink
from reports.models import ReportDocument
from reports.services import documents
from tests.factories import LicenceFactory
from tests.reports.orders_support import fulfilled_order
from tests.support.staff import sales_member, superuser

pytestmark = pytest.mark.django_db


def action_post(client, url, action, pks):
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})


@pytest.fixture
def expired_order():
    order, _url = fulfilled_order(LicenceFactory(kind="single").report)
    DownloadLink.objects.filter(order=order).update(expires_at=timezone.now() - timedelta(days=1))
    return order


def test_sales_cannot_extend_links_from_the_order_list(client, expired_order):
    client.force_login(sales_member())
    response = action_post(client, "/admin/orders/order/", "extend_links", [expired_order.pk])
    assert response.status_code == 403
    link = DownloadLink.objects.get(order=expired_order)
    assert link.expires_at < timezone.now()
    assert not expired_order.events.filter(kind="link_extended").exists()


def test_sales_cannot_resend_links_from_the_order_list(client, expired_order):
    client.force_login(sales_member())
    response = action_post(client, "/admin/orders/order/", "resend_links", [expired_order.pk])
    assert response.status_code == 403
    assert DownloadLink.objects.filter(order=expired_order).count() == 1
    assert not OutboundEmail.objects.exists()


def test_a_superuser_resends_links_from_the_order_list(client, expired_order):
    client.force_login(superuser())
    response = action_post(client, "/admin/orders/order/", "resend_links", [expired_order.pk])
    assert response.status_code == 302
    assert DownloadLink.objects.filter(order=expired_order, revoked_at__isnull=True).count() == 1
    assert OutboundEmail.objects.filter(template="orders/email/order_download_link").count() == 1


def test_sales_cannot_resend_from_the_mail_log(client):
    email = email_queue(to="jane@acme.example", template="tests/email/test_message", context={})
    # As its job leaves it after the last attempt: the email failed, the job failed.
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)
    Job.objects.filter(kind="mail.send", target_id=email.pk).update(state=Job.State.FAILED)
    client.force_login(sales_member())
    response = action_post(client, "/admin/contacts/outboundemail/", "resend", [email.pk])
    assert response.status_code == 403
    assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.FAILED

    client.force_login(superuser())
    action_post(client, "/admin/contacts/outboundemail/", "resend", [email.pk])
    assert OutboundEmail.objects.get(pk=email.pk).status == OutboundEmail.Status.QUEUED


def test_sales_cannot_rerender_pdfs_from_the_document_list(client):
    report = LicenceFactory().report
    first = documents.report_documents_rerender(report=report)
    ReportDocument.objects.update(status=ReportDocument.Status.READY, file_path="x.pdf")
    client.force_login(sales_member())
    response = action_post(
        client, "/admin/reports/reportdocument/", "rerender", [d.pk for d in first]
    )
    assert response.status_code == 403
    assert set(ReportDocument.objects.values_list("status", flat=True)) == {"ready"}

    client.force_login(superuser())
    action_post(client, "/admin/reports/reportdocument/", "rerender", [d.pk for d in first])
    assert set(ReportDocument.objects.values_list("status", flat=True)) == {"queued"}


def test_every_admin_action_names_the_permission_it_needs():
    """An action without `permissions` is offered to anyone who can open the list: that is
    how the four actions above were open to Sales. Every action must name its permission."""
    missing = [
        f"{model._meta.label}.{action.name}"
        for model, model_admin in admin.site._registry.items()
        for action in model_admin._get_base_actions()
        if not getattr(action.func, "allowed_permissions", None)
    ]
    assert missing == []

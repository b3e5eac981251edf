"""Staff preview and re-render of the report PDFs in the admin."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory
from django.urls import reverse

from reports.admin.documents import ReportDocumentsAdminMixin, documents_panel
from reports.models import Report, ReportDocument
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.support.jobs import run_job
from tests.support.renders import install_rendered_bases

Status = ReportDocument.Status


@pytest.fixture
def rendered(db):
    report = report_load_seed().report
    install_rendered_bases(report)
    return report


def _pdf_url(report, kind="sample"):
    document = ReportDocument.objects.get(report=report, kind=kind)
    return reverse("admin:reports_reportdocument_pdf", args=[document.pk])


def test_staff_preview_streams_the_pdf_privately(rendered, admin_client):
    response = admin_client.get(_pdf_url(rendered, "full"))
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert body.startswith(b"%PDF")
    assert "private" in response["Cache-Control"]
    assert 'filename="1780960-full-v1.pdf"' in response["Content-Disposition"]


def test_preview_is_refused_to_visitors_and_non_staff(rendered, client):
    url = _pdf_url(rendered)
    assert client.get(url).status_code == 302  # to the admin login
    client.force_login(User.objects.create_user("reader", password="pw-12345678"))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_preview_needs_permission_to_view_documents(rendered, client):
    staff = User.objects.create_user("clerk", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    assert client.get(_pdf_url(rendered)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_reportdocument"))
    assert client.get(_pdf_url(rendered)).status_code == 200


def test_rerender_asks_then_queues_a_render(rendered, admin_client):
    url = reverse("admin:reports_reportdocument_rerender", args=[rendered.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Re-render now" in page.content

    response = admin_client.post(url)

    assert response.status_code == 302
    statuses = set(ReportDocument.objects.filter(report=rendered).values_list("status", flat=True))
    assert statuses == {Status.QUEUED}


def test_rerender_needs_permission_to_change_reports(rendered, client):
    staff = User.objects.create_user("viewer", password="pw-12345678", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_reportdocument"))
    client.force_login(staff)
    url = reverse("admin:reports_reportdocument_rerender", args=[rendered.pk])
    assert client.post(url).status_code == 403
    assert ReportDocument.objects.filter(report=rendered, status=Status.READY).count() == 2


def test_document_list_and_detail_pages_show_versions(rendered, admin_client):
    listing = admin_client.get(reverse("admin:reports_reportdocument_changelist"))
    assert listing.status_code == 200 and b"view" in listing.content
    document = ReportDocument.objects.get(report=rendered, kind="full")
    detail = admin_client.get(reverse("admin:reports_reportdocument_change", args=[document.pk]))
    assert detail.status_code == 200 and document.content_hash.encode() in detail.content


def test_admin_action_rerenders_the_selected_reports(rendered, admin_client):
    ids = list(ReportDocument.objects.filter(report=rendered).values_list("pk", flat=True))
    admin_client.post(
        reverse("admin:reports_reportdocument_changelist"),
        {"action": "rerender", "_selected_action": ids},
    )
    assert set(ReportDocument.objects.filter(report=rendered).values_list("status", flat=True)) == {
        Status.QUEUED
    }


def test_report_admin_panel_links_the_current_pdfs_and_the_rerender_page(rendered):
    html = documents_panel(rendered)
    assert _pdf_url(rendered, "full") in html and _pdf_url(rendered, "sample") in html
    assert reverse("admin:reports_reportdocument_rerender", args=[rendered.pk]) in html


def test_report_admin_save_with_the_mixin_renders_nothing(rendered):
    """PDFs are rendered on first need, never because staff saved."""

    class ReportAdmin(ReportDocumentsAdminMixin, admin.ModelAdmin):
        pass

    class SavedForm:  # what ModelAdmin.save_related needs from the change form
        instance = rendered

        def save_m2m(self):
            pass

    rendered.analysis = "Edited in the admin."
    rendered.save()
    request = RequestFactory().post("/admin/")
    ReportAdmin(Report, admin.site).save_related(request, SavedForm(), [], True)
    assert not ReportDocument.objects.filter(report=rendered, version=2).exists()


def test_staff_preview_renders_a_pdf_nobody_needed_yet_then_shows_it(admin_client, rendered):
    rendered.summary = "A new summary: content nobody has rendered yet."
    rendered.save()
    url = reverse("admin:reports_reportdocument_preview", args=[rendered.pk, "sample"])
    waiting = admin_client.get(url)
    html = waiting.content.decode()
    assert waiting.status_code == 200 and '<meta http-equiv="refresh" content="3">' in html
    queued = ReportDocument.objects.get(report=rendered, kind="sample", version=2)
    assert queued.status == Status.QUEUED
    assert not ReportDocument.objects.filter(report=rendered, kind="full", version=2).exists()

    run_job(documents.RENDER_JOB, queued.pk)  # what the PDF worker does
    shown = admin_client.get(url)
    assert shown["Content-Type"] == "application/pdf"
    assert b"".join(shown.streaming_content).startswith(b"%PDF")
    assert ReportDocument.objects.filter(report=rendered, version=2).count() == 1

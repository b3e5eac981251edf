"""Staff tools for the report PDFs: the rendered versions (ReportDocument), a preview that
streams a PDF from private storage to staff only (rendering it first if nobody has needed it
yet: PDFs are rendered on first need, never on save), and "re-render".

Kept apart from reports/admin.py (the report admin) and registered from ReportsConfig.ready().
The report admin links here with `ReportDocumentsAdminMixin` (see its docstring)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from ..models import Report, ReportDocument
from ..services import documents

Status = ReportDocument.Status


def _pdf_url(document: ReportDocument) -> str:
    return reverse("admin:reports_reportdocument_pdf", args=[document.pk])


def _rerender_url(report: Report) -> str:
    return reverse("admin:reports_reportdocument_rerender", args=[report.pk])


def documents_panel(report: Report) -> str:
    """HTML for the report's change page: the newest version of each kind, its status and a
    link to view it, the version staff see in use if that differs, and the re-render link."""
    if report.pk is None:
        return "A report's PDFs are rendered when first needed: a sample request, a purchase."
    rows = []
    for kind, label in ReportDocument.Kind.choices:
        latest = report.documents.filter(kind=kind).order_by("-version").first()
        in_use = (
            report.documents.filter(kind=kind, status=Status.READY).order_by("-version").first()
        )
        rows.append((label, _describe(latest), _describe(in_use) if in_use != latest else ""))
    table = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows)
    return format_html(
        "<table><thead><tr><th></th><th>Newest version</th><th>Good version in use</th></tr>"
        "</thead><tbody>{}</tbody></table>"
        "<p>PDFs are rendered when first needed (a sample request, a purchase, a preview). "
        '<a class="button" href="{}" target="_blank">Preview the sample</a> '
        '<a class="button" href="{}" target="_blank">Preview the full report</a> '
        '<a class="button" href="{}">Re-render PDFs</a></p>',
        table,
        _preview_url(report, ReportDocument.Kind.SAMPLE),
        _preview_url(report, ReportDocument.Kind.FULL),
        _rerender_url(report),
    )


def _preview_url(report: Report, kind: str) -> str:
    return reverse("admin:reports_reportdocument_preview", args=[report.pk, kind])


def _describe(document: ReportDocument | None) -> str:
    if document is None:
        return "—"
    if document.status == Status.READY:
        return format_html(
            'v{} · {} pages · <a href="{}" target="_blank">view PDF</a>',
            document.version,
            document.page_count,
            _pdf_url(document),
        )
    detail = f": {document.error.strip().splitlines()[-1]}" if document.error else ""
    return f"v{document.version} · {document.get_status_display()}{detail}"


class ReportDocumentsAdminMixin:
    """For the report's ModelAdmin: `class ReportAdmin(ReportDocumentsAdminMixin,
    admin.ModelAdmin)` and "pdf_documents" in its readonly_fields (and fieldsets, if any).
    Saving renders nothing: a new version is rendered when a copy or a preview first needs
    it (`documents.document_current`)."""

    @admin.display(description="PDF documents")
    def pdf_documents(self, obj):
        return documents_panel(obj)


@admin.register(ReportDocument)
class ReportDocumentAdmin(admin.ModelAdmin):
    list_display = (
        "report",
        "kind",
        "version",
        "status",
        "page_count",
        "size_kib",
        "render_seconds",
        "rendered_at",
        "pdf_link",
    )
    list_filter = ("status", "kind")
    list_select_related = ("report",)
    search_fields = ("report__title", "report__number", "content_hash")
    actions = ("rerender",)
    readonly_fields = [f.name for f in ReportDocument._meta.fields] + ["pdf_link"]

    def has_add_permission(self, request):
        return False  # versions come from renders, never from a form

    def has_delete_permission(self, request, obj=None):
        return False  # copies were stamped from these files

    @admin.display(description="size (KiB)")
    def size_kib(self, obj):
        return round(obj.size_bytes / 1024) if obj.size_bytes else None

    @admin.display(description="PDF")
    def pdf_link(self, obj):
        if obj.status != Status.READY:
            return "—"
        return format_html('<a href="{}" target="_blank">view</a>', _pdf_url(obj))

    def has_rerender_permission(self, request) -> bool:
        """Re-rendering changes what the reports' copies are stamped from: the same
        permission as the report's own "Re-render PDFs" page."""
        return request.user.has_perm("reports.change_report")

    @admin.action(
        description="Re-render the current content of these reports", permissions=["rerender"]
    )
    def rerender(self, request, queryset):
        reports = Report.objects.filter(documents__in=queryset).distinct()
        for report in reports:
            documents.report_documents_rerender(report=report)
        self.message_user(request, f"Queued a new render for {len(reports)} report(s).")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/pdf/", wrap(self.pdf_view), name="reports_reportdocument_pdf"),
            path(
                "report/<int:report_id>/rerender/",
                wrap(self.rerender_view),
                name="reports_reportdocument_rerender",
            ),
            path(
                "report/<int:report_id>/preview/<str:kind>/",
                wrap(self.preview_view),
                name="reports_reportdocument_preview",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request, pk):
        """Streams the PDF from private storage; only staff who may view documents."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _stream(get_object_or_404(ReportDocument, pk=pk, status=Status.READY))

    def preview_view(self, request, report_id, kind):
        """The current PDF of the report's content; if it has never been rendered, its render
        is queued and this page reloads itself (no JavaScript) until the PDF is there."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind not in ReportDocument.Kind.values:
            raise Http404("No such PDF kind.")
        report = get_object_or_404(Report, pk=report_id)
        try:
            document = documents.document_current(report=report, kind=kind)
        except documents.DocumentNotReady:
            context = {
                **self.admin_site.each_context(request),
                "title": f"Rendering the {ReportDocument.Kind(kind).label.lower()} of report "
                f"{report.number}",
                "report": report,
                "back": _report_admin_url(report),
                "refresh_seconds": 3,
                "opts": self.opts,
            }
            return TemplateResponse(
                request, "admin/reports/reportdocument/preview_wait.html", context
            )
        return _stream(document)

    def rerender_view(self, request, report_id):
        """GET asks for confirmation, POST queues the render. The report's change page
        links here because a button there can't nest its own form."""
        if not self.has_rerender_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        report = get_object_or_404(Report, pk=report_id)
        back = _report_admin_url(report)
        if request.method == "POST":
            documents.report_documents_rerender(report=report)
            messages.success(request, f"Queued a new render of the PDFs of report {report.number}.")
            return redirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Re-render the PDFs of report {report.number}?",
            "report": report,
            "panel": documents_panel(report),
            "back": back,
            "opts": self.opts,
        }
        return TemplateResponse(
            request, "admin/reports/reportdocument/rerender_confirm.html", context
        )


def _stream(document: ReportDocument) -> FileResponse:
    storage = storages["private"]
    if not storage.exists(document.file_path):
        raise Http404("The file is missing from private storage.")
    name = f"{document.report.number}-{document.kind}-v{document.version}.pdf"
    response = FileResponse(
        storage.open(document.file_path), content_type="application/pdf", filename=name
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _report_admin_url(report: Report) -> str:
    """The report's change page once the report admin is registered, else its versions."""
    if admin.site.is_registered(Report):
        return reverse("admin:reports_report_change", args=[report.pk])
    changelist = reverse("admin:reports_reportdocument_changelist")
    return f"{changelist}?report__id__exact={report.pk}"

"""Rendered base PDFs for tests that need a report ready to stamp (samples, replies, orders):
each content version is rendered for real once per test process, then installed as the
report's ready documents, instead of a worker rendering it again in every test. The render
itself is tested in tests/reports/test_pdf_*.py."""

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db.models import Max
from django.utils import timezone

from common.models import Job
from reports.models import Report, ReportDocument
from reports.pdf.content import content_hash, report_content
from reports.pdf.render import document_render
from reports.services.documents import RENDER_JOB

_renders: dict[tuple[str, str], tuple[bytes, int]] = {}


def install_rendered_bases(report, kinds=("full", "sample")) -> list[ReportDocument]:
    """The report's current content, ready in every kind, as if a worker had rendered it.
    Rows and jobs already queued for that content are completed, not duplicated."""
    report = Report.objects.get(pk=report.pk)  # as stored, like the worker sees it
    content = report_content(report=report)
    digest = content_hash(content)
    installed = []
    for kind in kinds:
        if (digest, kind) not in _renders:
            result = document_render(content=content, kind=kind)
            _renders[digest, kind] = (result.pdf, result.page_count)
        pdf, pages = _renders[digest, kind]
        document = ReportDocument.objects.filter(
            report=report, kind=kind, content_hash=digest
        ).first() or ReportDocument(
            report=report,
            kind=kind,
            content_hash=digest,
            version=_version_for(report, digest),
            queued_at=timezone.now(),
        )
        path = f"reports/{report.number}/base/test-{digest[:12]}-{kind}.pdf"
        if not storages["private"].exists(path):
            path = storages["private"].save(path, ContentFile(pdf))
        document.status = ReportDocument.Status.READY
        document.file_path = path
        document.page_count = pages
        document.size_bytes = len(pdf)
        document.rendered_at = timezone.now()
        document.save()
        Job.objects.filter(kind=RENDER_JOB, target_id=document.pk).update(
            state=Job.State.DONE, finished_at=timezone.now()
        )
        installed.append(document)
    return installed


def _version_for(report, digest: str) -> int:
    """The content's version number: shared by its kinds, or the next one (as the service
    numbers them)."""
    same = ReportDocument.objects.filter(report=report, content_hash=digest).first()
    if same:
        return same.version
    latest = ReportDocument.objects.filter(report=report).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


def render_queued(report) -> list[str]:
    """Queue renders of the report's current content if it has none, then run its waiting
    render jobs in this process, as the PDF worker would. Returns each run's outcome."""
    from reports.services.documents import report_documents_refresh
    from tests.support.jobs import run_job

    report_documents_refresh(report=report)
    queued = ReportDocument.objects.filter(
        report=report, status__in=[ReportDocument.Status.QUEUED, ReportDocument.Status.RENDERING]
    )
    return [run_job(RENDER_JOB, pk) for pk in queued.values_list("pk", flat=True)]

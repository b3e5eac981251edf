"""The public interface: base renders per content version, stamped personal copies."""

import io
from datetime import date

import pytest
from django.core.files.storage import storages
from pypdf import PdfReader

from reports.models import ReportDocument
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.reports.pdf_support import normalise, pdf_pages_text

Status = ReportDocument.Status


@pytest.fixture
def report(db):
    return report_load_seed().report


def _read(path: str) -> bytes:
    with storages["private"].open(path) as handle:
        return handle.read()


def test_copy_before_render_raises_not_ready_and_leaves_a_queued_version(report):
    with pytest.raises(documents.DocumentNotReady):
        documents.sample_copy_create(
            report=report,
            name="Jane",
            company="Acme",
            prepared_on=date(2025, 11, 3),
            path_hint="s/1",
        )
    queued = ReportDocument.objects.get(report=report, kind="sample")
    assert (queued.status, queued.version) == (Status.QUEUED, 1)


def test_sample_copy_carries_the_stamp_on_every_page_and_in_metadata(report):
    documents.report_documents_render(report_id=report.pk)
    base = ReportDocument.objects.get(report=report, kind="sample", status=Status.READY)

    path = documents.sample_copy_create(
        report=report,
        name="Jane O'Neil",
        company="Acme Pharma",
        prepared_on=date(2025, 11, 3),
        path_hint="samples/1780960/42",
    )

    stamp = "Prepared for Jane O'Neil, Acme Pharma — 3 November 2025"
    copy = _read(path)
    pages = pdf_pages_text(copy)
    assert len(pages) == base.page_count
    assert all(stamp in normalise(text) for text in pages)
    assert PdfReader(io.BytesIO(copy)).metadata["/Subject"] == stamp


def test_licensed_copy_stamps_the_full_report(report):
    documents.report_documents_render(report_id=report.pk)
    path = documents.licensed_copy_create(
        report=report,
        company="Acme Pharma",
        licence_name="Enterprise",
        order_reference="RR-2025-0042",
        path_hint="orders/RR-2025-0042/report",
    )
    pages = pdf_pages_text(_read(path))
    full = ReportDocument.objects.get(report=report, kind="full")
    assert len(pages) == full.page_count > 10
    stamp = "Licensed to Acme Pharma — Enterprise — order RR-2025-0042"
    assert all(stamp in normalise(text) for text in pages)
    assert path == "orders/RR-2025-0042/report.pdf"

"""The render task on a real Celery worker."""

from datetime import date

import pytest

from reports.models import ReportDocument
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.support.waiting import wait_until

Status = ReportDocument.Status


@pytest.mark.django_db(transaction=True)
def test_loading_the_seed_renders_both_documents_on_the_worker(celery_worker):
    report = report_load_seed().report  # commits; the refresh enqueues after commit

    def ready():
        rows = ReportDocument.objects.filter(report=report, status=Status.READY)
        return rows.count() == 2 and rows

    rows = wait_until(ready, timeout=90, message=f"no render:\n{celery_worker.tail()}")
    assert {row.kind for row in rows} == {"full", "sample"}
    assert all(row.page_count and row.size_bytes and row.file_path for row in rows)
    path = documents.sample_copy_create(
        report=report, name="Ana", company="Beta", prepared_on=date(2025, 1, 2), path_hint="s/ana"
    )
    assert path == "s/ana.pdf"

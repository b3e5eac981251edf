"""The render task on a real Celery worker."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from reports.models import KeyPlayer, ReportDocument
from reports.pdf.content import content_hash, report_content
from reports.services import documents
from reports.services.seed import report_load_seed
from reports.tasks import pdf_render_report
from tests.factories import ReportFactory
from tests.support.waiting import wait_until

Status = ReportDocument.Status


@pytest.mark.django_db(transaction=True)
def test_the_first_copy_asks_the_worker_for_its_kind_only(celery_worker):
    """Loading renders nothing; the first sample queues the sample's render (not the full
    report's), the worker renders it, and copies are stamped from it from then on."""
    report = report_load_seed().report
    assert not ReportDocument.objects.filter(report=report).exists()
    with pytest.raises(documents.DocumentNotReady):
        documents.sample_copy_create(
            report=report, name="Ana", company="Beta", prepared_on=date(2025, 1, 2), path_hint="x"
        )

    def ready():
        return ReportDocument.objects.filter(report=report, status=Status.READY).first()

    row = wait_until(ready, timeout=90, message=f"no render:\n{celery_worker.tail()}")
    assert row.kind == "sample" and row.page_count and row.size_bytes and row.file_path
    assert list(ReportDocument.objects.filter(report=report).values_list("kind", flat=True)) == [
        "sample"
    ]
    path = documents.sample_copy_create(
        report=report, name="Ana", company="Beta", prepared_on=date(2025, 1, 2), path_hint="s/ana"
    )
    assert path == "s/ana.pdf"


def _long_report():
    """Enough profiles that no machine renders the full report within one second."""
    report = ReportFactory()
    KeyPlayer.objects.bulk_create(
        KeyPlayer(report=report, position=i, name=f"Provider {i}", profile="A profile. " * 80)
        for i in range(60)
    )
    return report


@pytest.mark.django_db(transaction=True)
def test_a_render_over_the_soft_time_limit_is_recorded_as_failed(celery_worker):
    report = _long_report()  # created without a refresh: nothing is enqueued yet
    # The limits travel in the message (set from the sender's settings); one second here.
    pdf_render_report.apply_async((report.pk,), soft_time_limit=1, time_limit=60)

    full = wait_until(
        lambda: ReportDocument.objects.filter(
            report=report, kind="full", status=Status.FAILED
        ).first(),
        timeout=90,
        message=f"no failure recorded:\n{celery_worker.tail()}",
    )
    assert full.error == "Rendering exceeded the soft time limit."
    assert not full.file_path


def test_render_task_has_time_limits_from_settings():
    assert pdf_render_report.soft_time_limit == settings.PDF_RENDER_SOFT_TIME_LIMIT
    assert pdf_render_report.time_limit == settings.PDF_RENDER_TIME_LIMIT
    assert settings.PDF_RENDER_SOFT_TIME_LIMIT < settings.PDF_RENDER_TIME_LIMIT


@pytest.mark.django_db(transaction=True)
def test_sweeper_renders_versions_whose_message_never_reached_the_broker(celery_worker):
    report = ReportFactory()
    digest = content_hash(report_content(report=report))
    long_ago = timezone.now() - timedelta(seconds=settings.PDF_RENDER_STALE_AFTER_SECONDS + 5)
    for kind in ("full", "sample"):  # queued rows, as left by a failed enqueue
        ReportDocument.objects.create(
            report=report, kind=kind, content_hash=digest, version=1, queued_at=long_ago
        )

    assert documents.documents_render_stale() == 1

    wait_until(
        lambda: ReportDocument.objects.filter(report=report, status=Status.READY).count() == 2,
        timeout=90,
        message=f"not rendered:\n{celery_worker.tail()}",
    )

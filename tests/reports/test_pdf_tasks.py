"""Render jobs on a real Celery worker."""

from datetime import date

import pytest
from django.conf import settings

from common import jobs
from common.models import Job
from reports.models import KeyPlayer, ReportDocument
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.factories import ReportFactory
from tests.support.broker import broker_unreachable
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
def test_a_render_over_the_soft_time_limit_is_recorded_as_failed(celery_worker, settings):
    report = _long_report()  # created without a refresh: nothing is queued yet
    # The limits travel in the message, from the publisher's settings: one second here.
    settings.PDF_RENDER_SOFT_TIME_LIMIT = 1
    documents.report_documents_refresh(report=report)

    full = wait_until(
        lambda: ReportDocument.objects.filter(
            report=report, kind="full", status=Status.FAILED
        ).first(),
        timeout=90,
        message="the full report's render was never recorded as failed",
    )
    assert full.error == "Rendering exceeded the soft time limit."
    assert not full.file_path
    job = Job.objects.get(kind=documents.RENDER_JOB, target_id=full.pk)
    assert (job.state, job.attempts) == ("failed", 1)  # a time limit is not retried


def test_render_jobs_carry_the_time_limits_from_settings():
    limits = jobs.KINDS[documents.RENDER_JOB].time_limits
    assert limits == {
        "soft_time_limit": settings.PDF_RENDER_SOFT_TIME_LIMIT,
        "time_limit": settings.PDF_RENDER_TIME_LIMIT,
    }
    assert settings.PDF_RENDER_SOFT_TIME_LIMIT < settings.PDF_RENDER_TIME_LIMIT
    assert settings.PDF_RENDER_TIME_LIMIT < settings.JOB_LEASE_SECONDS


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_publishes_renders_the_broker_never_got(celery_worker):
    with broker_unreachable():
        report = ReportFactory()
        documents.report_documents_refresh(report=report)
    assert set(Job.objects.values_list("dispatched_at", flat=True)) == {None}

    assert jobs.sweep() == 2

    wait_until(
        lambda: ReportDocument.objects.filter(report=report, status=Status.READY).count() == 2,
        timeout=90,
        message="the swept renders never finished",
    )

"""Lazy PDFs: saving, publishing or importing a report renders nothing; the first sample
request renders the base sample once (on the real worker) and is delivered; later requests
are only stamped from it."""

import pytest
from django.urls import reverse

from common.models import Job
from enquiries.models import SampleRequest
from enquiries.services import samples
from reports.models import Report, ReportDocument
from reports.services.documents import RENDER_JOB
from reports.services.imports import Record, reports_import
from tests.reports.test_import import line
from tests.support.forms import sample_form_data
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ask_for_sample(client, report, email):
    data = sample_form_data(email=email)
    response = client.post(reverse("enquiries:request-sample", args=[report.number]), data)
    assert response.status_code == 302


def test_first_sample_request_renders_the_sample_once_and_is_delivered(
    client, mailbox, celery_worker
):
    reports_import(records=[Record(line=1, data=line(6000001))])
    report = Report.objects.get(number=6000001)
    assert report.status == Report.Status.PUBLISHED
    assert not ReportDocument.objects.exists()  # importing and publishing rendered nothing

    ask_for_sample(client, report, "first@acme-pharma.example")
    first = mailbox.wait_for(1, to="first@acme-pharma.example", timeout=120)[0]
    assert any(p.get_content_type() == "application/pdf" for p in first.iter_attachments())
    (sample,) = ReportDocument.objects.all()
    render = Job.objects.get(kind=RENDER_JOB, target_id=sample.pk)
    assert (sample.kind, sample.status, render.attempts) == ("sample", "ready", 1)
    stamping = Job.objects.get(kind=samples.JOB)
    assert stamping.attempts == 2 and stamping.waiting_for is None  # woken by the render

    ask_for_sample(client, report, "second@acme-pharma.example")
    mailbox.wait_for(1, to="second@acme-pharma.example", timeout=60)
    wait_until(
        lambda: SampleRequest.objects.filter(status="emailed").count() == 2,
        timeout=30,
        message=f"second request not emailed:\n{celery_worker.tail()}",
    )
    # Stamped from the same render: no second render, and no full report nobody asked for.
    assert list(ReportDocument.objects.values_list("kind", "version")) == [("sample", 1)]
    assert Job.objects.get(kind=RENDER_JOB).attempts == 1

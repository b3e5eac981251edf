"""The public interface: base renders per content version, stamped personal copies."""

import io
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.db.models import F
from django.utils import timezone
from pypdf import PdfReader

from reports.models import Category, ReportDocument
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


def _edit(report, **changes):
    for name, value in changes.items():
        setattr(report, name, value)
    report.full_clean()
    report.save()
    documents.report_documents_refresh(report=report)


def _version_in(path: str) -> str:
    return PdfReader(io.BytesIO(_read(path))).metadata["/Keywords"]


def _copy(report, hint="s/copy"):
    return documents.sample_copy_create(
        report=report, name="Jane", company="Acme", prepared_on=date(2025, 5, 1), path_hint=hint
    )


def test_editing_a_report_makes_a_new_version_and_new_copies_wait_for_it(report):
    documents.report_documents_render(report_id=report.pk)
    assert "version 1" in _version_in(_copy(report))

    _edit(report, analysis="A rewritten analysis.\n\nWith a second paragraph.")

    new = ReportDocument.objects.get(report=report, kind="sample", version=2)
    assert new.status == Status.QUEUED
    with pytest.raises(documents.DocumentNotReady):
        _copy(report)  # version 1 is not served for new copies
    documents.report_documents_render(report_id=report.pk)
    path = _copy(report, "s/after-edit")
    assert "version 2" in _version_in(path)
    assert "A rewritten analysis." in normalise(" ".join(pdf_pages_text(_read(path))))


def test_unchanged_content_keeps_its_version(report):
    documents.report_documents_render(report_id=report.pk)
    _edit(report, title=report.title)
    documents.report_documents_refresh(report=report)
    assert list(ReportDocument.objects.filter(report=report).values_list("version", flat=True)) == [
        1,
        1,
    ]


def test_failed_render_is_recorded_and_the_previous_good_version_stays_in_use(report, monkeypatch):
    documents.report_documents_render(report_id=report.pk)
    _edit(report, summary="A new summary that will fail to render.")

    def broken_render(**kwargs):
        raise RuntimeError("Pango could not load a font")

    monkeypatch.setattr(documents, "document_render", broken_render)
    documents.report_documents_render(report_id=report.pk)

    failed = ReportDocument.objects.get(report=report, kind="sample", version=2)
    assert failed.status == Status.FAILED
    assert "Pango could not load a font" in failed.error
    assert "version 1" in _version_in(_copy(report))


def test_staff_rerender_keeps_serving_the_same_content_until_the_new_file_lands(report):
    documents.report_documents_render(report_id=report.pk)
    documents.report_documents_rerender(report=report)
    sample = ReportDocument.objects.get(report=report, kind="sample")
    assert sample.status == Status.QUEUED and sample.version == 1
    assert "version 1" in _version_in(_copy(report))
    documents.report_documents_render(report_id=report.pk)
    sample.refresh_from_db()
    assert sample.status == Status.READY and sample.attempts == 1


def test_a_version_edited_away_before_rendering_is_closed_not_rendered(report):
    documents.report_documents_refresh(report=report)
    _edit(report, latest_trends="Changed before the worker got to it.")

    documents.report_documents_render(report_id=report.pk)

    old = ReportDocument.objects.filter(report=report, version=1)
    assert set(old.values_list("status", flat=True)) == {Status.FAILED}
    assert all("Superseded" in row.error for row in old)
    assert set(
        ReportDocument.objects.filter(report=report, version=2).values_list("status", flat=True)
    ) == {Status.READY}


def test_rendering_twice_renders_once(report):
    documents.report_documents_refresh(report=report)
    first = documents.report_documents_render(report_id=report.pk)
    second = documents.report_documents_render(report_id=report.pk)
    assert len(first) == 2 and second == []


def test_drafts_are_not_rendered_on_refresh(report):
    _edit(report, status="draft", analysis="Work in progress.")
    assert not ReportDocument.objects.filter(report=report, version=2).exists()


def test_upcoming_report_gets_an_outline_sample(report):
    report.key_players.all().delete()
    report.dynamics.all().delete()
    _edit(
        report,
        status="upcoming",
        analysis="Scope of the forthcoming edition.",
        latest_trends="",
        opportunities="",
    )
    documents.report_documents_render(report_id=report.pk)
    text = normalise(" ".join(pdf_pages_text(_read(_copy(report)))))
    assert "Forthcoming edition · Outline sample".upper() in text.upper()
    assert "Scope of the forthcoming edition." in text
    assert "2.2 Growth drivers This section is in preparation for the forthcoming edition." in text
    assert "Key players profiled" not in text


def test_lost_or_abandoned_renders_are_enqueued_again(report, settings):  # noqa: F811
    documents.report_documents_refresh(report=report)
    settings.PDF_RENDER_STALE_AFTER_SECONDS = 0
    assert documents.documents_render_stale() == 1


def test_copy_path_comes_from_the_hint_without_leaving_the_folder(report):
    documents.report_documents_render(report_id=report.pk)
    assert _copy(report, "../../etc/passwd") == "etc/passwd.pdf"
    assert _copy(report, "/abs/x y.pdf") == "abs/x-y.pdf"


def _abandon(report, attempts):
    """As if a worker was killed mid-render (hard time limit, OOM) long ago."""
    documents.report_documents_refresh(report=report)
    long_ago = timezone.now() - timedelta(seconds=settings.PDF_RENDER_STALE_AFTER_SECONDS + 1)
    ReportDocument.objects.filter(report=report).update(
        status=Status.RENDERING, started_at=long_ago, attempts=attempts
    )


def test_a_render_abandoned_by_a_killed_worker_is_claimed_again(report):
    _abandon(report, attempts=1)
    rendered = documents.report_documents_render(report_id=report.pk)
    assert [(d.status, d.attempts) for d in rendered] == [(Status.READY, 2)] * 2


def test_a_render_that_kills_its_worker_every_time_ends_failed(report):
    _abandon(report, attempts=settings.PDF_RENDER_MAX_ATTEMPTS)
    assert documents.report_documents_render(report_id=report.pk) == []
    errors = ReportDocument.objects.filter(report=report).values_list("error", flat=True)
    assert all("worker stopped" in error for error in errors)


def test_copies_in_a_row_each_carry_only_their_own_stamp(report):
    """The worker keeps the parsed base between copies: nothing of one copy leaks into the next."""
    documents.report_documents_render(report_id=report.pk)
    texts = {}
    for name in ("First Reader", "Second Reader", "Third Reader"):
        path = documents.sample_copy_create(
            report=report, name=name, company="Acme", prepared_on=date(2025, 5, 1), path_hint=name
        )
        texts[name] = normalise(" ".join(pdf_pages_text(_read(path))))
    for name, text in texts.items():
        assert f"Prepared for {name}, Acme" in text
        assert [other for other in texts if other in text] == [name]


@pytest.mark.parametrize(
    "change",
    [
        lambda report: report.key_players.filter(position=0).update(profile="Rewritten profile."),
        lambda report: report.regions.first().countries.last().delete(),
        lambda report: report.licences.update(price=F("price") + 1),
        lambda report: Category.objects.filter(pk=report.category_id).update(name="Renamed"),
    ],
    ids=["key player updated", "country removed", "licence prices", "category renamed"],
)
def test_a_child_row_changed_behind_the_services_back_is_not_served_from_the_old_version(
    report, change
):
    """The content hash is cached, but any row change (here without signals or a refresh, in
    the same transaction as the cached lookup) makes new copies wait for the new version."""
    documents.report_documents_render(report_id=report.pk)
    assert "version 1" in _version_in(_copy(report))
    change(report)
    with pytest.raises(documents.DocumentNotReady):
        _copy(report)
    assert ReportDocument.objects.get(report=report, kind="sample", version=2).status == "queued"

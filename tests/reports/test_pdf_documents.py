"""The public interface: base renders per content version, stamped personal copies."""

import io
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.files.storage import storages
from django.db.models import F
from django.utils import timezone
from pypdf import PdfReader

from common.models import Job
from reports.models import Category, ReportDocument
from reports.services import documents
from reports.services.seed import report_load_seed
from tests.reports.pdf_support import normalise, pdf_pages_text
from tests.support.jobs import job_of
from tests.support.renders import install_rendered_bases, render_queued

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
    install_rendered_bases(report)
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
    install_rendered_bases(report)
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
    install_rendered_bases(report)
    assert "version 1" in _version_in(_copy(report))

    _edit(report, analysis="A rewritten analysis.\n\nWith a second paragraph.")

    new = ReportDocument.objects.get(report=report, kind="sample", version=2)
    assert new.status == Status.QUEUED
    with pytest.raises(documents.DocumentNotReady):
        _copy(report)  # version 1 is not served for new copies
    install_rendered_bases(report)
    path = _copy(report, "s/after-edit")
    assert "version 2" in _version_in(path)
    assert "A rewritten analysis." in normalise(" ".join(pdf_pages_text(_read(path))))


def test_unchanged_content_keeps_its_version(report):
    install_rendered_bases(report)
    _edit(report, title=report.title)
    documents.report_documents_refresh(report=report)
    assert list(ReportDocument.objects.filter(report=report).values_list("version", flat=True)) == [
        1,
        1,
    ]


def test_failed_render_is_recorded_and_the_previous_good_version_stays_in_use(report, monkeypatch):
    install_rendered_bases(report)
    _edit(report, summary="A new summary that will fail to render.")

    def broken_render(**kwargs):
        raise RuntimeError("Pango could not load a font")

    monkeypatch.setattr(documents, "document_render", broken_render)
    render_queued(report)

    failed = ReportDocument.objects.get(report=report, kind="sample", version=2)
    assert failed.status == Status.FAILED
    assert "Pango could not load a font" in failed.error
    assert "version 1" in _version_in(_copy(report))


def test_staff_rerender_keeps_serving_the_same_content_until_the_new_file_lands(report):
    install_rendered_bases(report)
    documents.report_documents_rerender(report=report)
    sample = ReportDocument.objects.get(report=report, kind="sample")
    assert sample.status == Status.QUEUED and sample.version == 1
    assert "version 1" in _version_in(_copy(report))
    render_queued(report)
    sample.refresh_from_db()
    assert sample.status == Status.READY and job_of(documents.RENDER_JOB, sample.pk).attempts == 1


def test_a_version_edited_away_before_rendering_is_closed_not_rendered(report):
    documents.report_documents_refresh(report=report)
    _edit(report, latest_trends="Changed before the worker got to it.")

    render_queued(report)

    old = ReportDocument.objects.filter(report=report, version=1)
    assert set(old.values_list("status", flat=True)) == {Status.FAILED}
    assert all("Superseded" in row.error for row in old)
    assert set(
        ReportDocument.objects.filter(report=report, version=2).values_list("status", flat=True)
    ) == {Status.READY}


def test_rendering_twice_renders_once(report):
    documents.report_documents_refresh(report=report)
    first = render_queued(report)
    second = render_queued(report)
    assert first == ["done", "done"] and second == []


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
    install_rendered_bases(report)
    text = normalise(" ".join(pdf_pages_text(_read(_copy(report)))))
    assert "Forthcoming edition · Outline sample".upper() in text.upper()
    assert "Scope of the forthcoming edition." in text
    assert "2.2 Growth drivers This section is in preparation for the forthcoming edition." in text
    assert "Key players profiled" not in text


def test_copy_path_comes_from_the_hint_without_leaving_the_folder(report):
    install_rendered_bases(report)
    assert _copy(report, "../../etc/passwd") == "etc/passwd.pdf"
    assert _copy(report, "/abs/x y.pdf") == "abs/x-y.pdf"


def _abandon(report, attempts):
    """As if a worker was killed mid-render (hard time limit, OOM) longer ago than a lease."""
    documents.report_documents_refresh(report=report)
    long_ago = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    ReportDocument.objects.filter(report=report).update(status=Status.RENDERING)
    return Job.objects.filter(kind=documents.RENDER_JOB).update(
        state="running", claimed_at=long_ago, claim_token="dead-worker", attempts=attempts
    )


def test_a_render_abandoned_by_a_killed_worker_is_taken_over(report):
    assert _abandon(report, attempts=1) == 2
    assert render_queued(report) == ["done", "done"]
    for document in ReportDocument.objects.filter(report=report):
        assert document.status == Status.READY
        assert job_of(documents.RENDER_JOB, document.pk).attempts == 2


def test_a_render_that_kills_its_worker_every_time_ends_failed(report):
    _abandon(report, attempts=settings.PDF_RENDER_MAX_ATTEMPTS)
    assert render_queued(report) == ["skipped", "skipped"]  # nothing left to try
    for document in ReportDocument.objects.filter(report=report):
        job = job_of(documents.RENDER_JOB, document.pk)
        assert document.status == Status.FAILED and job.state == "failed"
        assert job.attempts == settings.PDF_RENDER_MAX_ATTEMPTS
        assert "did not finish: the worker was killed or timed out" in document.error


def test_copies_in_a_row_each_carry_only_their_own_stamp(report):
    """The worker keeps the parsed base between copies: nothing of one copy leaks into the next."""
    install_rendered_bases(report)
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
    install_rendered_bases(report)
    assert "version 1" in _version_in(_copy(report))
    change(report)
    with pytest.raises(documents.DocumentNotReady):
        _copy(report)
    assert ReportDocument.objects.get(report=report, kind="sample", version=2).status == "queued"


def test_editing_a_pdf_template_or_stylesheet_changes_the_version(tmp_path, monkeypatch):
    """The sources' digest is kept between copies and read again only when a file changed:
    an edit, a new file and a removed one must each still make a new version."""
    import os

    from reports.pdf import content

    templates, static = tmp_path / "templates", tmp_path / "static"
    (templates / "parts").mkdir(parents=True)
    static.mkdir()
    (templates / "report.html").write_text("<h1>{{ title }}</h1>")
    (templates / "parts" / "toc.html").write_text("<ol></ol>")
    (static / "report.css").write_text("h1 { color: navy }")
    monkeypatch.setattr(content, "TEMPLATE_DIR", templates)
    monkeypatch.setattr(content, "STATIC_PDF_DIR", static)

    first = content.sources_digest()
    assert content.sources_digest() == first
    seen = {first}

    css = static / "report.css"
    css.write_text("h1 { color: teal }")  # same size: only the time and the bytes change
    stat = css.stat()
    os.utime(css, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    seen.add(content.sources_digest())
    (templates / "parts" / "chart.html").write_text("<svg></svg>")
    seen.add(content.sources_digest())
    (templates / "parts" / "toc.html").unlink()
    seen.add(content.sources_digest())
    assert len(seen) == 4

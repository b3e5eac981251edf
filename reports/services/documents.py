"""The report as a document: base renders (one per content version and kind) and the
personal copies stamped from them.

Lifecycle: nothing is rendered when a report is saved, published or imported. The first
copy or staff preview that needs a kind (`document_current`) computes the content hash; a
version of that kind without a good render gets a `queued` row and its "pdf.render" job
(common/jobs.py), so a first sample request waits for the sample's render alone.
`report_document_render` (the job) renders it with WeasyPrint and files the PDF in private
storage. Copies (`sample_copy_create`, `licensed_copy_create`)
stamp the newest good base of the *current* content; while that is still rendering they raise
`DocumentNotReady` (the caller's task retries), so an edited report never sends old content.
Only when the current version's render has failed for good does the previous good version
stay in use, so buyers still get a report while staff fix the failure. A staff re-render of
unchanged content keeps serving the existing file of that content until the new one lands."""

import functools
import logging
import posixpath
import re
import traceback
from collections import OrderedDict
from datetime import date

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import DatabaseError, connection, transaction
from django.db.models import Max
from django.utils import timezone, translation

from common import jobs

from ..models import (
    Category,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RegionCountry,
    Report,
    ReportDocument,
    Segment,
    TocEntry,
)
from ..pdf.content import content_hash, report_content, sources_digest
from ..pdf.render import document_render
from ..pdf.stamp import pdf_stamp

logger = logging.getLogger(__name__)
RENDER_JOB = "pdf.render"
SUPERSEDED = "Superseded by newer content before rendering."
Kind = ReportDocument.Kind
Status = ReportDocument.Status


class DocumentNotReady(Exception):
    """No good base render exists yet for the report's current content; one is queued
    (`document`, whose render job a waiting job can wait for: `render_job`)."""

    def __init__(self, message: str, *, document: ReportDocument | None = None):
        super().__init__(message)
        self.document = document

    @property
    def render_job(self):
        return jobs.job_for(RENDER_JOB, self.document.pk) if self.document else None


# --- Versions -----------------------------------------------------------------------------


def _current_hash(report: Report) -> str:
    """The content hash, recomputed only when a row it is built from may have changed.

    Building the content takes a dozen queries; every copy needs the hash. The cache key is
    the identity of every row `report_content` reads (see `_rows_fingerprint`) plus what it
    takes from outside the database, so an edit by any route (admin, service, a queryset
    `update()`, raw SQL) misses the cache; a spurious miss only costs a recomputation.
    The fingerprint needs PostgreSQL's row versions; elsewhere (SQLite in `make run`) the
    hash is simply recomputed."""
    if connection.vendor != "postgresql":
        return content_hash(report_content(report=Report.objects.get(pk=report.pk)))
    key = (
        report.pk,
        _rows_fingerprint(report.pk),
        sources_digest(),
        settings.SITE_URL,
        settings.PUBLISHER_NAME,
        translation.get_language(),
    )
    digest = _hash_cache.get(key)
    if digest is None:
        digest = content_hash(report_content(report=Report.objects.get(pk=report.pk)))
        if len(_hash_cache) >= 64:
            _hash_cache.clear()  # one entry per report and edit: bounded, rarely refilled
        _hash_cache[key] = digest
    return digest


_hash_cache: dict[tuple, str] = {}


def _rows_fingerprint(report_id: int) -> str:
    """Where each row behind the report's content physically is: PostgreSQL gives every
    inserted or updated row version a new (xmin, ctid), within one transaction too (a new
    ctid), and a deleted row drops out. So any change to the report, its category or a child
    row changes this string."""
    sql, parameters = _fingerprint_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [report_id] * parameters)
        return cursor.fetchone()[0] or ""


@functools.cache
def _fingerprint_sql() -> tuple[str, int]:
    """One query over every table `report_content` reads (keep the two in step)."""
    tables = {
        "report": (Report, "id = %s"),
        "category": (Category, "id = (SELECT category_id FROM {report} WHERE id = %s)"),
        "dynamic": (MarketDynamic, "report_id = %s"),
        "player": (KeyPlayer, "report_id = %s"),
        "segment": (Segment, "report_id = %s"),
        "region": (Region, "report_id = %s"),
        "country": (RegionCountry, "region_id IN (SELECT id FROM {region} WHERE report_id = %s)"),
        "toc": (TocEntry, "report_id = %s"),
        "licence": (Licence, "report_id = %s"),
    }
    names = {"report": Report._meta.db_table, "region": Region._meta.db_table}
    # Only table names from the models are formatted in; the report id is a parameter.
    parts = [
        f"SELECT '{label}:' || id || ':' || xmin::text || ':' || ctid::text AS row "  # noqa: S608
        f"FROM {model._meta.db_table} WHERE {where.format(**names)}"
        for label, (model, where) in tables.items()
    ]
    union = " UNION ALL ".join(parts)
    sql = f"SELECT md5(string_agg(row, ',' ORDER BY row)) FROM ({union}) rows"  # noqa: S608
    return sql, len(parts)


def _document_for_hash(*, report: Report, kind: str, digest: str) -> tuple[ReportDocument, bool]:
    """The row for this content version and kind, created `queued` if new. Callers hold the
    report's row lock, so two editors can't give the same content two version numbers."""
    document = ReportDocument.objects.filter(report=report, kind=kind, content_hash=digest).first()
    if document:
        return document, False
    same_content = ReportDocument.objects.filter(report=report, content_hash=digest).first()
    if same_content:
        version = same_content.version
    else:
        latest = ReportDocument.objects.filter(report=report).aggregate(v=Max("version"))["v"]
        version = (latest or 0) + 1
    document = ReportDocument(
        report=report, kind=kind, content_hash=digest, version=version, queued_at=timezone.now()
    )
    document.full_clean()
    document.save()
    jobs.enqueue(RENDER_JOB, target_id=document.pk)
    return document, True


@transaction.atomic
def _documents_ensure(
    *, report: Report, kinds=tuple(Kind.values), force=False
) -> list[ReportDocument]:
    """Rows for the current content of every kind; a new one is queued with its render job.
    `force` renders a ready or failed one again."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    digest = _current_hash(report)
    documents = []
    for kind in kinds:
        document, created = _document_for_hash(report=report, kind=kind, digest=digest)
        if force and not created and document.status in (Status.READY, Status.FAILED):
            document.status = Status.QUEUED
            document.queued_at = timezone.now()
            document.save(update_fields=["status", "queued_at"])
            jobs.enqueue(RENDER_JOB, target_id=document.pk, restart=True)
        documents.append(document)
    return documents


def report_documents_refresh(*, report: Report) -> None:
    """Call after a report is published or its content changed (admin save, seed load):
    queues a render of the full report and the sample if the current content has none.
    Drafts are skipped (nothing is sold or sampled from a draft); staff can still render
    one explicitly with `report_documents_rerender`."""
    if report.status == Report.Status.DRAFT:
        return
    _documents_ensure(report=report)


def report_documents_rerender(*, report: Report) -> list[ReportDocument]:
    """Staff's "re-render": render the current content again even if a good render exists
    (e.g. after a font or template fix outside the hashed sources)."""
    return _documents_ensure(report=report, force=True)


# --- Rendering (the worker's side) --------------------------------------------------------


def report_document_render(*, work: jobs.JobRun) -> None:
    """The "pdf.render" job: render one document of the report's content. A rerun finds it
    rendered (or closed) and does nothing; the job's claim keeps a second worker out.
    WeasyPrint errors, missing resources and the soft time limit fail it for good (rendering
    the same content again would fail the same way); database and storage errors retry."""
    document = ReportDocument.objects.select_related("report").get(pk=work.target_id)
    if document.status not in (Status.QUEUED, Status.RENDERING):
        return
    ReportDocument.objects.filter(pk=document.pk).update(status=Status.RENDERING)
    report = document.report
    content = report_content(report=report)
    if content_hash(content) != document.content_hash:
        with work.completing():
            _record_failure(document, SUPERSEDED)
        return
    try:
        result = document_render(content=content, kind=document.kind)
    except SoftTimeLimitExceeded as exc:
        raise jobs.GiveUp("Rendering exceeded the soft time limit.") from exc
    except (DatabaseError, OSError):
        raise
    except Exception as exc:
        raise jobs.GiveUp(traceback.format_exc(limit=8)) from exc
    if result.fetcher.problems:
        raise jobs.GiveUp("Missing resources: " + "; ".join(result.fetcher.problems))
    if result.seconds > (work.soft_time_limit or settings.PDF_RENDER_SOFT_TIME_LIMIT):
        # The limit's exception can land in WeasyPrint code that swallows it (a __del__).
        raise jobs.GiveUp("Rendering exceeded the soft time limit.")
    path = _save(_base_path(document), result.pdf)
    with work.completing():
        document.status = Status.READY
        document.file_path = path
        document.page_count = result.page_count
        document.size_bytes = len(result.pdf)
        document.render_seconds = round(result.seconds, 3)
        document.rendered_at = timezone.now()
        document.error = ""
        document.save()
    logger.info("Rendered %s: %s pages in %.2fs", document, result.page_count, result.seconds)
    _supersede_older(report)


def report_document_give_up(document_id: int, error: str) -> None:
    document = ReportDocument.objects.select_related("report").get(pk=document_id)
    _record_failure(document, error)


def _record_failure(document: ReportDocument, error: str) -> ReportDocument:
    document.status = Status.FAILED
    document.error = error[-4000:]
    document.rendered_at = timezone.now()
    document.save(update_fields=["status", "error", "rendered_at"])
    logger.error("Render of %s failed: %s", document, error.splitlines()[-1] if error else "")
    return document


def _supersede_older(report: Report) -> None:
    """Queued rows of older content will never match the report again: close them."""
    digest = _current_hash(report)
    ReportDocument.objects.filter(report=report, status=Status.QUEUED).exclude(
        content_hash=digest
    ).update(status=Status.FAILED, error=SUPERSEDED)


def _base_path(document: ReportDocument) -> str:
    return (
        f"reports/{document.report.number}/base/"
        f"v{document.version}-{document.content_hash[:12]}-{document.kind}.pdf"
    )


def _save(path: str, pdf: bytes) -> str:
    storage = storages["private"]
    if storage.exists(path):
        storage.delete(path)  # a rerun replaces its own file instead of piling up copies
    return storage.save(path, ContentFile(pdf))


# --- Choosing the base for a copy ---------------------------------------------------------


def document_current(*, report: Report, kind: str) -> ReportDocument:
    """The base a new copy is stamped from (see the module docstring for the rules)."""
    ready = ReportDocument.objects.filter(
        report=report, kind=kind, content_hash=_current_hash(report), status=Status.READY
    ).first()
    if ready is not None:
        # The common case needs neither the report's row lock nor a write: this content has
        # a good render. Anything else goes through the locked path below.
        return ready
    current = _documents_ensure(report=report, kinds=(kind,))[0]
    if current.file_path:
        # Rendered from exactly this content before; a staff re-render in progress (or one
        # that failed) doesn't make that file wrong.
        return current
    if current.status == Status.FAILED:
        previous = (
            ReportDocument.objects.filter(report=report, kind=kind, status=Status.READY)
            .exclude(pk=current.pk)
            .order_by("-version")
            .first()
        )
        if previous:
            logger.warning("Using %s: the render of v%s failed", previous, current.version)
            return previous
    raise DocumentNotReady(
        f"{report.number} {kind} v{current.version} is {current.status}", document=current
    )


# --- Personal copies ----------------------------------------------------------------------


def _copy_path(path_hint: str) -> str:
    """A safe relative storage name from the caller's hint (no "..", no absolute paths)."""
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "-", p).strip(".-") for p in path_hint.split("/")]
    name = posixpath.join(*[p for p in parts if p]) if any(parts) else "copy"
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


def seat_copy_create(
    *, report: Report, name: str, company: str, seat: int, seats: int | None, path_hint: str
) -> str:
    """The current full report stamped "Licensed to <name>, <company> — seat 2 of 5" (a named
    seat of a multi-user licence; "seat 7" when the licence is unlimited), from the same
    rendered base as every other copy."""
    who = ", ".join(part.strip() for part in (name, company) if part and part.strip())
    place = f"seat {seat} of {seats}" if seats else f"seat {seat}"
    return _copy_create(
        report=report, kind=Kind.FULL, text=f"Licensed to {who} — {place}", path_hint=path_hint
    )


def _copy_create(*, report: Report, kind: str, text: str, path_hint: str) -> str:
    document = document_current(report=report, kind=kind)
    base = _base_bytes(document)
    stamped = pdf_stamp(
        base=base,
        text=text,
        metadata={
            "/Subject": text,
            "/Keywords": f"report {report.number}; version {document.version}; {text}",
        },
    )
    path = _save(_copy_path(path_hint), stamped.pdf)
    # Ids and paths only: the stamp text names a person (INFO logs keep no personal data).
    logger.info("Stamped a copy of %s in %.3fs -> %s", document, stamped.seconds, path)
    return path


_bases: OrderedDict[tuple, bytes] = OrderedDict()


def _base_bytes(document: ReportDocument) -> bytes:
    """The base PDF, read from storage once per render: a re-render rewrites `rendered_at`
    and `size_bytes` with the file, so a replaced file is a new key."""
    key = (document.pk, document.file_path, document.rendered_at, document.size_bytes)
    base = _bases.pop(key, None)
    if base is None:
        with storages["private"].open(document.file_path) as handle:
            base = handle.read()
    _bases[key] = base
    while len(_bases) > settings.PDF_STAMP_BASE_CACHE_SIZE:
        _bases.popitem(last=False)
    return base


def sample_copy_create(
    *, report: Report, name: str, company: str, prepared_on: date, path_hint: str
) -> str:
    """The current sample stamped "Prepared for <name>, <company> — <date>" on every page and
    in its metadata, saved to private storage; returns the storage path."""
    who = ", ".join(part.strip() for part in (name, company) if part and part.strip())
    text = f"Prepared for {who} — {prepared_on:%-d %B %Y}"
    return _copy_create(report=report, kind=Kind.SAMPLE, text=text, path_hint=path_hint)


def licensed_copy_create(
    *, report: Report, company: str, licence_name: str, order_reference: str, path_hint: str
) -> str:
    """The current full report stamped "Licensed to <company> — <licence> — order <ref>"."""
    text = f"Licensed to {company.strip()} — {licence_name.strip()} — order {order_reference}"
    return _copy_create(report=report, kind=Kind.FULL, text=text, path_hint=path_hint)

"""The publishing gate: a report whose quality check finds an error cannot be published
until a staff member has acknowledged that error with a note. Admin, import and the seed
loader all ask `publication_blockers` and record the answer with `report_gate_record`."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import QualityAcknowledgement, Report
from .quality import Finding, ReportParts, quality_findings
from .search_index import catalogue_changed


def finding_fingerprint(finding: Finding) -> str:
    """An error is the same error while its code and wording are: another figure or another
    text makes a new one, which needs its own acknowledgement."""
    return hashlib.sha256(f"{finding.code}\n{finding.message}".encode()).hexdigest()


def publication_blockers(*, parts: ReportParts, acknowledged: Iterable[str]) -> list[Finding]:
    """The errors that keep this report from being published: those found when it is
    checked *as published* (so a draft already shows what publishing would need) and not
    among the `acknowledged` fingerprints."""
    report = parts.report
    status = report.status
    report.status = Report.Status.PUBLISHED
    try:
        findings = quality_findings(parts=parts)
    finally:
        report.status = status
    done = set(acknowledged)
    return [f for f in findings if f.is_error and finding_fingerprint(f) not in done]


def acknowledged_fingerprints(*, report: Report) -> set[str]:
    return set(report.quality_acknowledgements.values_list("fingerprint", flat=True))


def report_blockers(*, report: Report) -> list[Finding]:
    """`publication_blockers` of a saved report, read from the database."""
    return publication_blockers(
        parts=ReportParts.of(report), acknowledged=acknowledged_fingerprints(report=report)
    )


@dataclass(frozen=True)
class GateOutcome:
    blockers: list[Finding]
    held_back: bool  # the report was to be published and was kept (or put back) as a draft

    def describe(self) -> str:
        count = len(self.blockers)
        errors = "; ".join(f"[{f.code}] {f.message}" for f in self.blockers)
        return f"{count} quality error{'s' if count != 1 else ''} not acknowledged: {errors}"


def gate_apply(*, report: Report, blockers: list[Finding]) -> GateOutcome:
    """Set the report's open-error count and, if it is to be published with any, make it a
    draft (unsaved: the caller saves). Publication time is stamped only for a report that
    passes."""
    report.quality_open_errors = min(len(blockers), 32767)
    held_back = report.status == Report.Status.PUBLISHED and bool(blockers)
    if held_back:
        report.status = Report.Status.DRAFT
    elif report.status == Report.Status.PUBLISHED and report.published_at is None:
        report.published_at = timezone.now()
    return GateOutcome(blockers=blockers, held_back=held_back)


@transaction.atomic
def report_gate_record(*, report: Report) -> GateOutcome:
    """Check a saved report (after an admin save or an acknowledgement) and store the result:
    its open errors and, when it is published with any, its return to draft."""
    locked = Report.objects.select_for_update().get(pk=report.pk)
    outcome = gate_apply(report=locked, blockers=report_blockers(report=locked))
    Report.objects.filter(pk=locked.pk).update(
        status=locked.status,
        quality_open_errors=locked.quality_open_errors,
        published_at=locked.published_at,
    )
    report.status, report.published_at = locked.status, locked.published_at
    report.quality_open_errors = locked.quality_open_errors
    catalogue_changed()
    return outcome


@transaction.atomic
def report_quality_acknowledge(
    *,
    report: Report,
    finding: Finding,
    note: str,
    user: AbstractBaseUser | None = None,
    by_name: str = "",
) -> QualityAcknowledgement:
    """Record that `user` (or `by_name`, e.g. the seed loader) accepts this error, and why.
    Acknowledging the same error again keeps the first acknowledgement."""
    if not finding.is_error:
        raise ValidationError("Only errors need an acknowledgement.")
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why the report may be published with this error."})
    name = by_name or (user.get_full_name() or user.get_username() if user else "")
    if not name:
        raise ValueError("An acknowledgement needs the user (or the name) who makes it.")
    existing = QualityAcknowledgement.objects.filter(
        report=report, fingerprint=finding_fingerprint(finding)
    ).first()
    if existing:
        return existing
    acknowledgement = QualityAcknowledgement(
        report=report,
        code=finding.code,
        message=finding.message,
        fingerprint=finding_fingerprint(finding),
        note=note,
        acknowledged_by=user,
        acknowledged_by_name=name,
    )
    acknowledgement.full_clean()
    acknowledgement.save()
    report_gate_record(report=report)
    return acknowledgement

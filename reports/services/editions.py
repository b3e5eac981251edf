"""Publishing a new edition of a report (see reports/models/editions.py)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Report, ReportEdition
from ..signals import report_edition_published
from .documents import report_documents_refresh


@transaction.atomic
def report_edition_publish(
    *,
    report: Report,
    edition_date: date,
    upgrade_discount_percent: int,
    note: str = "",
    actor=None,
) -> ReportEdition:
    """Make `edition_date` the report's edition and tell its buyers (the apps above listen to
    `report_edition_published`). Publishing the same edition again changes nothing but
    asks the listeners again, which find everyone already told: a safe "try again".

    The new cover date is new content, so a new base is rendered (queued here); the buyers'
    copies are stamped from it once it is ready."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    if report.status != Report.Status.PUBLISHED:
        raise ValidationError("Only a published report can have a new edition.")
    edition = ReportEdition.objects.filter(report=report, edition_date=edition_date).first()
    if edition is None:
        if edition_date <= report.edition_date:
            raise ValidationError(
                {
                    "edition_date": f"A new edition is dated after the current one "
                    f"({report.edition_date:%-d %B %Y})."
                }
            )
        edition = ReportEdition(
            report=report,
            edition_date=edition_date,
            upgrade_discount_percent=upgrade_discount_percent,
            note=note.strip(),
            published_by=actor,
        )
        edition.full_clean()
        edition.save()
    if report.edition_date != edition_date:
        report.edition_date = edition_date
        report.save(update_fields=["edition_date", "updated_at"])
    report_documents_refresh(report=report)
    report_edition_published.send(sender=ReportEdition, edition=edition)
    return edition

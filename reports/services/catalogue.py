"""Writes to the catalogue that the admin and the seed loader share."""

from django.utils import timezone

from ..models import Report


def report_publication_stamp(*, report: Report) -> None:
    """Record when a report was first published (sort order, sitemap, OpenGraph). Set once:
    moving a report back to draft and out again keeps its first publication time."""
    if report.status == Report.Status.PUBLISHED and report.published_at is None:
        report.published_at = timezone.now()


def report_published_effects(*, report: Report, was_published: bool) -> None:
    """What follows a save that made a report published: its enquirers hear about it (once
    each, after commit). PDFs are refreshed on every save by the admin's documents mixin."""
    if report.status == Report.Status.PUBLISHED and not was_published:
        from enquiries.services.enquiries import enquiries_notify_report_published_on_commit

        enquiries_notify_report_published_on_commit(report=report)

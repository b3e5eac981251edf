"""Writes to the catalogue that the admin and the seed loader share."""

from django.utils import timezone

from ..models import Report


def report_publication_stamp(*, report: Report) -> None:
    """Record when a report was first published (sort order, sitemap, OpenGraph). Set once:
    moving a report back to draft and out again keeps its first publication time."""
    if report.status == Report.Status.PUBLISHED and report.published_at is None:
        report.published_at = timezone.now()

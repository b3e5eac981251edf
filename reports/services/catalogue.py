"""Writes to the catalogue that the admin shares with other routes."""

from ..models import Report
from ..signals import report_published


def report_published_effects(*, report: Report, was_published: bool) -> None:
    """What follows a save that made a report published: `report_published` is sent (its
    enquirers hear about it, once each, after commit). PDFs are rendered later, when first
    needed."""
    if report.status == Report.Status.PUBLISHED and not was_published:
        report_published.send(sender=Report, reports=[report])

"""Writes to the catalogue that the admin shares with other routes."""

from ..models import Report


def report_published_effects(*, report: Report, was_published: bool) -> None:
    """What follows a save that made a report published: its enquirers hear about it (once
    each, after commit). PDFs are rendered later, when first needed."""
    if report.status == Report.Status.PUBLISHED and not was_published:
        from enquiries.services.enquiries import enquiries_notify_report_published_on_commit

        enquiries_notify_report_published_on_commit(report=report)

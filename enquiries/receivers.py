"""Signal receivers of the leads app, connected in EnquiriesConfig.ready."""

from reports.models import Report
from reports.signals import report_published

from .models import Enquiry
from .services.enquiries import enquiries_notify_report_published_on_commit


def enquirers_notify(sender, *, reports: list[Report], **kwargs) -> None:
    """Reports published: those with enquiries asked while upcoming and not yet answered by
    a notice get a "report.published" job (one query for the whole batch)."""
    by_pk = {report.pk: report for report in reports}
    waiting = set(
        Enquiry.objects.filter(
            report_id__in=by_pk, about_upcoming_report=True, notified_on_publish_at__isnull=True
        ).values_list("report_id", flat=True)
    )
    for report_id in sorted(waiting):
        enquiries_notify_report_published_on_commit(report=by_pk[report_id])


def connect() -> None:
    report_published.connect(enquirers_notify, dispatch_uid="enquiries-report-published")

from django.core.management.base import BaseCommand, CommandError

from reports.models import Report
from reports.services.publishing import finding_fingerprint
from reports.services.quality import report_quality_findings

LABELS = {"error": "ERROR", "warning": "WARNING", "info": "info"}


class Command(BaseCommand):
    help = (
        "Check reports for contradictions and gaps (growth figures, regional shares, countries, "
        "prices). Exits non-zero when a check finds an error. Without numbers, checks every report."
    )

    def add_arguments(self, parser):
        parser.add_argument("numbers", nargs="*", type=int, metavar="number")

    def handle(self, *args, numbers, **options):
        reports = self._reports(numbers)
        errors = 0
        for report in reports:
            findings = report_quality_findings(report=report)
            errors += sum(finding.is_error for finding in findings)
            self._print(report, findings)
        if errors:
            raise CommandError(f"{errors} error(s) found.", returncode=1)

    def _reports(self, numbers: list[int]) -> list[Report]:
        reports = Report.objects.order_by("number").prefetch_related(
            "dynamics", "faqs", "licences", "regions__countries", "quality_acknowledgements"
        )
        if not numbers:
            return list(reports)
        found = list(reports.filter(number__in=numbers))
        missing = sorted(set(numbers) - {report.number for report in found})
        if missing:
            raise CommandError(f"No report numbered {', '.join(map(str, missing))}.")
        return found

    def _print(self, report: Report, findings):
        self.stdout.write(f"Report {report.number} ({report.get_status_display()}): {report.title}")
        if not findings:
            self.stdout.write(self.style.SUCCESS("  no findings"))
        acknowledged = {a.fingerprint: a for a in report.quality_acknowledgements.all()}
        for finding in findings:
            line = f"  {LABELS[finding.severity]} [{finding.code}] {finding.message}"
            ack = acknowledged.get(finding_fingerprint(finding))
            if ack:
                line += f" (acknowledged by {ack.acknowledged_by_name}: {ack.note})"
            style = self.style.ERROR if finding.is_error else self.style.WARNING
            self.stdout.write(style(line) if finding.severity != "info" else line)

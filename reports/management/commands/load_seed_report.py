from pathlib import Path

from django.core.management.base import BaseCommand

from reports.services.seed import DEFAULT_SEED, report_load_seed


class Command(BaseCommand):
    help = "Load the seed report (1780960) into the catalogue. Safe to run any number of times."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, default=DEFAULT_SEED)
        parser.add_argument(
            "--update",
            action="store_true",
            help="Rewrite an existing report from the file (discards staff edits).",
        )

    def handle(self, *args, path, update, **options):
        result = report_load_seed(path=path, update=update)
        report = result.report
        if not (result.created or result.updated):
            self.stdout.write(
                f"Report {report.number} is already loaded; nothing changed "
                "(use --update to reload it from the file)."
            )
            return
        verb = "Created" if result.created else "Reloaded"
        self.stdout.write(self.style.SUCCESS(f"{verb} report {report.number}: {report.title}"))
        for note in result.corrections:
            self.stdout.write(f"  corrected: {note}")
        for note in result.notes:
            self.stdout.write(f"  {note}")

"""manage.py import_reports FILE: reports from JSON Lines or CSV (docs/import-format.md)."""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.management.progress import ProgressBar
from reports.services.imports import (
    ImportFileInvalid,
    LineResult,
    RecordReader,
    ReportImporter,
    format_for,
)


class Command(BaseCommand):
    help = (
        "Import reports from a JSON Lines or CSV file. Idempotent by report number: a "
        "re-import updates in place and keeps what staff edited since. Lines with errors are "
        "reported with their line number and field and skipped; the exit status is 1 when "
        "any line failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="A .jsonl or .csv file; - reads stdin.")
        parser.add_argument("--format", choices=["jsonl", "csv"], help="Default: from the name.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every line; write nothing."
        )
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Rewrite reports from the file even where staff edited them.",
        )
        parser.add_argument(
            "--batch-size", type=int, help="Lines per transaction (CATALOGUE_IMPORT_BATCH_SIZE)."
        )
        parser.add_argument(
            "--progress",
            choices=["auto", "always", "never"],
            default="auto",
            help="Progress bar on stderr (auto: when stderr is a terminal).",
        )

    def handle(self, *args, file, format, dry_run, overwrite, batch_size, progress, **options):
        stream, size = self._open(file)
        try:
            reader = RecordReader(stream, fmt=format or format_for(str(file)))
            bar = ProgressBar(
                total=size, stream=self.stderr._out, enabled=_progress(progress, self.stderr)
            )
            importer = ReportImporter(
                dry_run=dry_run,
                overwrite=overwrite,
                batch_size=max(1, batch_size or settings.CATALOGUE_IMPORT_BATCH_SIZE),
                on_result=self._print,
            )
            for record in reader:
                importer.feed(record)
                bar.update(reader.position, count=importer.summary.lines + len(importer.pending))
            summary = importer.finish()
            bar.update(size, count=summary.lines, force=True)
            bar.close()
        except ImportFileInvalid as exc:
            raise CommandError(str(exc)) from exc
        finally:
            stream.close()
        self._print_summary(summary)
        if summary.failed:
            raise CommandError(f"{summary.failed} line(s) failed.", returncode=1)

    def _open(self, file: Path):
        if str(file) == "-":
            return sys.stdin.buffer, 0
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        return file.open("rb"), os.path.getsize(file)

    def _print(self, result: LineResult) -> None:
        where = f"line {result.line}" + (f" (report {result.number})" if result.number else "")
        for field, message in result.errors:
            self.stderr.write(f"{where}: {field}: {message}")
        for note in result.notes:
            style = self.style.WARNING if note.startswith("held") else (lambda text: text)
            self.stdout.write(style(f"{where}: {note}"))

    def _print_summary(self, summary) -> None:
        verb = "Checked (dry run, nothing written)" if summary.dry_run else "Imported"
        self.stdout.write(
            f"{verb}: {summary.lines:,} lines — {summary.created:,} created, "
            f"{summary.updated:,} updated, {summary.unchanged:,} unchanged, "
            f"{summary.failed:,} failed; {summary.held_back:,} held as drafts by the "
            "quality check."
        )


def _progress(choice: str, stderr) -> bool:
    if choice == "auto":
        return stderr.isatty()
    return choice == "always"

"""manage.py make_demo_catalogue --count N: demo reports to try the site at scale."""

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.management.progress import ProgressBar
from reports.services.demo import (
    DEMO_FIRST_NUMBER,
    demo_catalogue_delete,
    demo_catalogue_make,
    demo_lines,
)


class Command(BaseCommand):
    help = (
        "Generate a realistic demo catalogue (marked as demo data on every page), written "
        "with bulk inserts by the importer; --output writes it as a JSON Lines import file "
        "instead. Running it again updates the same reports in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=0, help="Same seed, same catalogue.")
        parser.add_argument("--first-number", type=int, default=DEMO_FIRST_NUMBER)
        parser.add_argument("--output", type=Path, help="Write JSON Lines here (- for stdout).")
        parser.add_argument(
            "--delete", action="store_true", help="Remove every demo report instead."
        )
        parser.add_argument("--progress", choices=["auto", "always", "never"], default="auto")

    def handle(self, *args, count, seed, first_number, output, delete, progress, **options):
        if delete:
            removed = demo_catalogue_delete()
            self.stdout.write(self.style.SUCCESS(f"Deleted {removed:,} demo reports."))
            return
        if count < 1:
            raise CommandError("--count must be at least 1.")
        enabled = self.stderr.isatty() if progress == "auto" else progress == "always"
        bar = ProgressBar(total=count, stream=self.stderr._out, unit="reports", enabled=enabled)
        if output:
            self._write(output, count=count, seed=seed, first_number=first_number, bar=bar)
            return
        summary = demo_catalogue_make(
            count=count,
            seed=seed,
            first_number=first_number,
            batch_size=settings.CATALOGUE_IMPORT_BATCH_SIZE,
            on_progress=lambda done: bar.update(done, count=done),
        )
        bar.update(count, count=count, force=True)
        bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalogue: {summary.created:,} created, {summary.updated:,} updated, "
                f"{summary.unchanged:,} unchanged, {summary.held_back:,} held as drafts by the "
                f"quality check (numbers {first_number}–{first_number + count - 1})."
            )
        )
        if summary.failed:
            raise CommandError(f"{summary.failed} demo reports failed to import.")

    def _write(self, output: Path, *, count, seed, first_number, bar) -> None:
        stream = sys.stdout if str(output) == "-" else output.open("w", encoding="utf-8")
        try:
            for index, line in enumerate(
                demo_lines(count=count, seed=seed, first_number=first_number)
            ):
                stream.write(json.dumps(line, ensure_ascii=False) + "\n")
                bar.update(index + 1, count=index + 1)
        finally:
            if stream is not sys.stdout:
                stream.close()
        bar.update(count, count=count, force=True)
        bar.close()

"""Search objects beyond the models (reports/search/schema.py), per database vendor:
PostgreSQL gets pg_trgm, a generated tsvector column with a GIN index and a trigram index
on the vocabulary; SQLite an FTS5 table kept by triggers. Then the existing reports' key
players and words are filled in."""

from django.db import migrations

from reports.search import schema
from reports.search.text import vocabulary_words


def install(apps, schema_editor):
    # The columns as they were then; migration 0012 adds the details.
    schema.install(schema_editor.connection, schema.SEARCH_COLUMNS_V1)


def uninstall(apps, schema_editor):
    schema.uninstall(schema_editor.connection)


def backfill(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    KeyPlayer = apps.get_model("reports", "KeyPlayer")
    SearchTerm = apps.get_model("reports", "SearchTerm")
    terms = set()
    for report in Report.objects.all().iterator():
        names = KeyPlayer.objects.filter(report=report).order_by("position", "pk")
        report.key_player_names = "\n".join(names.values_list("name", flat=True))
        report.save(update_fields=["key_player_names"])
        terms |= vocabulary_words(report.title, report.market_name, report.key_player_names)
    SearchTerm.objects.bulk_create(
        [SearchTerm(term=term) for term in sorted(terms)], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [("reports", "0006_report_search_gate_and_import_fields")]

    operations = [
        migrations.RunPython(install, uninstall),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

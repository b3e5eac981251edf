"""Search at 100,000 reports (reports/search/ranking.py): on PostgreSQL, stored tsvectors of
the title and market name and of the key players, with GIN indexes, so that the ranking's
tiers are index lookups; and an index on the sample bucket counts are estimated from
(reports/search/schema.py). Reversible; nothing on SQLite."""

from django.db import migrations

from reports.search import schema


def install(apps, schema_editor):
    schema.ranking_install(schema_editor.connection)


def uninstall(apps, schema_editor):
    schema.ranking_uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("reports", "0009_order_payment_method")]

    operations = [migrations.RunPython(install, uninstall)]

"""Search reads the details the report page shows: its segments' and regions' names and its
FAQ, kept on the report as `search_details` (reports/services/search_index.py) and indexed
with the key players' weight (reports/search/schema.py). The existing reports' details are
filled in first, so the search document is generated once."""

from django.db import migrations, models

from reports.search import schema

BATCH = 1000


def details_fill(apps, schema_editor):
    from reports.services.search_index import search_details

    Report = apps.get_model("reports", "Report")
    Segment = apps.get_model("reports", "Segment")
    Region = apps.get_model("reports", "Region")
    FrequentQuestion = apps.get_model("reports", "FrequentQuestion")
    ids = list(Report.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        parts = {pk: ([], [], []) for pk in batch}
        for report_id, name in Segment.objects.filter(report_id__in=batch).values_list(
            "report_id", "name"
        ):
            parts[report_id][0].append(name)
        for report_id, name in Region.objects.filter(report_id__in=batch).values_list(
            "report_id", "name"
        ):
            parts[report_id][1].append(name)
        questions = FrequentQuestion.objects.filter(report_id__in=batch).order_by("position", "pk")
        for report_id, question, answer in questions.values_list("report_id", "question", "answer"):
            parts[report_id][2].append((question, answer))
        reports = [
            Report(pk=pk, search_details=search_details(segments=s, regions=r, questions=q))
            for pk, (s, r, q) in parts.items()
        ]
        Report.objects.bulk_update(
            [report for report in reports if report.search_details], ["search_details"]
        )


def document_with_details(apps, schema_editor):
    schema.document_replace(schema_editor.connection, schema.SEARCH_COLUMNS)


def document_without_details(apps, schema_editor):
    schema.document_replace(schema_editor.connection, schema.SEARCH_COLUMNS_V1)


class Migration(migrations.Migration):
    dependencies = [("reports", "0011_orders_to_orders")]

    operations = [
        migrations.AddField(
            model_name="report",
            name="search_details",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(details_fill, migrations.RunPython.noop),
        migrations.RunPython(document_with_details, document_without_details),
    ]

"""The default sample follow-up sequence: day 2 "any questions?" with the table of contents,
day 7 the licence prices with replies to the sales desk (staff edit both in admin)."""

from django.db import migrations


def create(apps, schema_editor):
    from enquiries.services.followups import followup_steps_default_create

    followup_steps_default_create(apps.get_model("enquiries", "FollowUpStep"))


class Migration(migrations.Migration):
    dependencies = [("enquiries", "0009_followups")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]

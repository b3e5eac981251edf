"""Data: the "Sales" group with its permission set, and the canned reply templates.

Permissions of models that don't exist yet (sample requests, orders) are granted later by
`manage.py sync_sales_group`, which applies the same set."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

REPLY_TEMPLATES = [
    {
        "name": "Price quote",
        "position": 10,
        "subject": "Your price for {report}",
        "body": (
            "Dear {first_name},\n\n"
            "Thank you for your interest in {report}.\n\n"
            "From what you describe, the {licence} licence is the right fit. The link below "
            "takes you straight to checkout. If your organisation needs a formal quote or a "
            "pro-forma invoice for its purchasing process, reply to this email and I will send "
            "one the same day.\n\n"
            "Buying several reports, or need the data cut differently? Tell me: we can often "
            "combine them at a better price."
        ),
    },
    {
        "name": "Licence explanation",
        "position": 20,
        "subject": "Licence options for {report}",
        "body": (
            "Dear {first_name},\n\n"
            "Thank you for your question about the licences for {report}.\n\n"
            "- Single user: one named person may read, print and quote the report.\n"
            "- Multi-user: a team of named colleagues in your organisation share it.\n"
            "- Enterprise: everyone in your organisation, worldwide, including use in internal "
            "presentations.\n\n"
            "Every licence includes the full PDF and analyst support for questions about the "
            "findings. You can upgrade later and pay only the difference."
        ),
    },
    {
        "name": "Custom scope",
        "position": 30,
        "subject": "A tailored version of {report}",
        "body": (
            "Dear {first_name},\n\n"
            "Thank you for explaining what you need from {report}.\n\n"
            "We can tailor the research to your scope: additional countries or segments, "
            "profiles of the companies you choose, or a different forecast period. To prepare a "
            "proposal with price and delivery date, could you tell me:\n\n"
            "1. the regions, countries or segments that matter most to you;\n"
            "2. the companies you would like profiled;\n"
            "3. when you need the results.\n\n"
            "I will send you a proposal within two business days of your answer."
        ),
    },
]


def create_sales_group(apps, schema_editor):
    from enquiries.services.sales_group import sales_group_apply

    # Permissions are normally created after all migrations ran (post_migrate); create them
    # now so the group can be given them in this migration.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, apps=apps, verbosity=0)
    sales_group_apply(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


def remove_sales_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Sales").delete()


def create_reply_templates(apps, schema_editor):
    ReplyTemplate = apps.get_model("enquiries", "ReplyTemplate")
    for template in REPLY_TEMPLATES:
        ReplyTemplate.objects.update_or_create(name=template["name"], defaults=template)


def remove_reply_templates(apps, schema_editor):
    names = [t["name"] for t in REPLY_TEMPLATES]
    apps.get_model("enquiries", "ReplyTemplate").objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("enquiries", "0002_enquiries_inbox"),
        ("reports", "0002_documents"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_sales_group, remove_sales_group),
        migrations.RunPython(create_reply_templates, remove_reply_templates),
    ]

"""Download links get a seed the mail worker builds the link from at send time, and the
mail log's copies of download-link emails sent before lose their live links (the body keeps
/download/<reference>/[redacted], as the logs write it)."""

from django.db import migrations, models

from common.logging import secrets_redact

TEMPLATE = "reports/email/order_download_link"


def mail_log_links_mask(apps, schema_editor):
    OutboundEmail = apps.get_model("enquiries", "OutboundEmail")
    for email in OutboundEmail.objects.filter(template=TEMPLATE).iterator():
        text, html = secrets_redact(email.body_text), secrets_redact(email.body_html)
        if (text, html) != (email.body_text, email.body_html):
            OutboundEmail.objects.filter(pk=email.pk).update(body_text=text, body_html=html)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0007_search_index_objects"),
        ("enquiries", "0006_privacy_typed_details_consent_time_quote_revocation"),
    ]

    operations = [
        migrations.AddField(
            model_name="downloadlink",
            name="token_seed",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(mail_log_links_mask, migrations.RunPython.noop),
    ]

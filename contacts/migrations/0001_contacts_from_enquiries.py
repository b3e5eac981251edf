"""Contacts and the outbox move here from the leads app (enquiries/0007 forgets them there).
The tables keep their names (`enquiries_contact`, `enquiries_outboundemail`)."""

import django.db.models.deletion
import django_countries.fields
import phonenumber_field.modelfields
from django.db import migrations, models


MODELS = ("contact", "outboundemail")


def content_types_move(apps, schema_editor, *, source="enquiries", target="contacts"):
    """The moved models' content types change app, so their permissions (and the Sales group
    holding them), admin log entries and generic relations (an email's `related`) keep
    pointing at the same rows. A content type the target already has is left alone."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    taken = set(
        ContentType.objects.using(db)
        .filter(app_label=target, model__in=MODELS)
        .values_list("model", flat=True)
    )
    ContentType.objects.using(db).filter(app_label=source, model__in=MODELS).exclude(
        model__in=taken
    ).update(app_label=target)
    ContentType.objects.clear_cache()


def content_types_back(apps, schema_editor):
    content_types_move(apps, schema_editor, source="contacts", target="enquiries")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('enquiries', '0006_privacy_typed_details_consent_time_quote_revocation'),
    ]

    operations = [
        migrations.RunPython(content_types_move, content_types_back),
        # The tables stay as they are: only Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Contact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('email', models.EmailField(help_text='Stored lower-cased: one contact per address.', max_length=254, unique=True)),
                        ('name', models.CharField(max_length=150)),
                        ('company', models.CharField(blank=True, max_length=200)),
                        ('job_title', models.CharField(blank=True, max_length=150)),
                        ('country', django_countries.fields.CountryField(blank=True, max_length=2)),
                        ('phone', phonenumber_field.modelfields.PhoneNumberField(blank=True, max_length=128, region=None)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('erased_at', models.DateTimeField(blank=True, editable=False, null=True)),
                    ],
                    options={
                        'db_table': 'enquiries_contact',
                        'ordering': ['-created_at'],
                        'permissions': [('export_contact', "Can export a contact's personal data"), ('erase_contact', "Can erase a contact's personal data")],
                    },
                ),
                migrations.CreateModel(
                    name='OutboundEmail',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('to', models.EmailField(db_index=True, max_length=254)),
                        ('reply_to', models.CharField(blank=True, max_length=254)),
                        ('from_email', models.CharField(max_length=254)),
                        ('subject', models.CharField(max_length=300)),
                        ('template', models.CharField(db_index=True, max_length=120)),
                        ('body_text', models.TextField()),
                        ('body_html', models.TextField(blank=True)),
                        ('attachment_path', models.CharField(blank=True, max_length=500)),
                        ('attachment_name', models.CharField(blank=True, max_length=200)),
                        ('related_id', models.CharField(blank=True, max_length=64)),
                        ('dedupe_key', models.CharField(blank=True, max_length=200, null=True, unique=True)),
                        ('message_id', models.CharField(max_length=200, unique=True)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('sent', 'Sent'), ('failed', 'Failed')], db_index=True, default='queued', max_length=10)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('body_removed_at', models.DateTimeField(blank=True, null=True)),
                        ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='emails', to='contacts.contact')),
                        ('related_type', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='contenttypes.contenttype')),
                    ],
                    options={
                        'verbose_name': 'outbound email',
                        'db_table': 'enquiries_outboundemail',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['related_type', 'related_id'], name='enquiries_o_related_8913b5_idx')],
                    },
                ),
            ],
        ),
    ]

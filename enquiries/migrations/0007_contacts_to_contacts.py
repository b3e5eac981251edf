"""Contacts and the outbox moved to their own app (contacts/0001): the leads point at them there,
and forget them here, in Django's state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0001_contacts_from_enquiries'),
        ('enquiries', '0006_privacy_typed_details_consent_time_quote_revocation'),
        ('reports', '0011_orders_to_orders'),
    ]

    operations = [
        # The tables stay as they are: only Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='samplerequest',
                    name='contact',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sample_requests', to='contacts.contact'),
                ),
                migrations.AlterField(
                    model_name='enquiry',
                    name='contact',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enquiries', to='contacts.contact'),
                ),
                migrations.AlterField(
                    model_name='historicalenquiry',
                    name='contact',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='contacts.contact'),
                ),
                migrations.RemoveIndex(
                    model_name='outboundemail',
                    name='enquiries_o_related_8913b5_idx',
                ),
                migrations.AlterField(
                    model_name='enquiryreply',
                    name='email',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enquiry_reply', to='contacts.outboundemail'),
                ),
                migrations.RemoveField(
                    model_name='outboundemail',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='outboundemail',
                    name='related_type',
                ),
                migrations.DeleteModel(
                    name='Contact',
                ),
                migrations.DeleteModel(
                    name='OutboundEmail',
                ),
            ],
        ),
    ]

"""Orders and everything from Pay to the download move here from the catalogue app
(reports/0011 forgets them there). The tables keep their names (`reports_order`, …)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Replace


MODELS = (
    "order",
    "orderevent",
    "orderreferencecounter",
    "stripeevent",
    "deliverable",
    "downloadlink",
    "downloadlog",
)


def content_types_move(apps, schema_editor, *, source="reports", target="orders"):
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
    content_types_move(apps, schema_editor, source="orders", target="reports")


def email_templates_rename(apps, schema_editor, *, old="reports/email/", new="orders/email/"):
    """Emails already in the mail log name their template by path; the order emails moved
    with their app, so the rows follow (the outbox's outcome and secret hooks are keyed by it)."""
    OutboundEmail = apps.get_model("contacts", "OutboundEmail")
    OutboundEmail.objects.using(schema_editor.connection.alias).filter(
        template__startswith=old + "order_"
    ).update(template=Replace("template", Value(old), Value(new)))


def email_templates_back(apps, schema_editor):
    email_templates_rename(apps, schema_editor, old="orders/email/", new="reports/email/")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contacts', '0001_contacts_from_enquiries'),
        ('reports', '0011_orders_to_orders'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(content_types_move, content_types_back),
        migrations.RunPython(email_templates_rename, email_templates_back),
        # The tables stay as they are: only Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DownloadLink',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('token_hash', models.CharField(max_length=64, unique=True)),
                        ('token_seed', models.CharField(blank=True, max_length=64)),
                        ('expires_at', models.DateTimeField()),
                        ('max_downloads', models.PositiveSmallIntegerField()),
                        ('download_count', models.PositiveSmallIntegerField(default=0)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('revoke_reason', models.CharField(blank=True, choices=[('refunded', 'The order was refunded'), ('disputed', 'The payment is disputed'), ('superseded', 'Replaced by a newer link'), ('staff', 'Withdrawn by staff')], max_length=12)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'reports_downloadlink',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='OrderReferenceCounter',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('year', models.PositiveSmallIntegerField(unique=True)),
                        ('last_value', models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'reports_orderreferencecounter',
                    },
                ),
                migrations.CreateModel(
                    name='Order',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('utm_source', models.CharField(blank=True, db_index=True, max_length=200)),
                        ('utm_medium', models.CharField(blank=True, db_index=True, max_length=200)),
                        ('utm_campaign', models.CharField(blank=True, db_index=True, max_length=200)),
                        ('utm_term', models.CharField(blank=True, max_length=200)),
                        ('utm_content', models.CharField(blank=True, max_length=200)),
                        ('utm_id', models.CharField(blank=True, max_length=200)),
                        ('landing_page', models.CharField(blank=True, max_length=2000)),
                        ('referrer', models.CharField(blank=True, max_length=2000)),
                        ('reference', models.CharField(editable=False, max_length=32, unique=True)),
                        ('licence_kind', models.CharField(choices=[('single', 'Single user'), ('multi', 'Multi-user'), ('enterprise', 'Enterprise')], max_length=12)),
                        ('licence_name', models.CharField(max_length=60)),
                        ('price', models.DecimalField(decimal_places=2, max_digits=10)),
                        ('currency', models.CharField(max_length=3)),
                        ('price_source', models.CharField(choices=[('list', 'List price'), ('quote', 'Special-price quote')], default='list', max_length=8)),
                        ('promotion_code', models.CharField(blank=True, help_text='The code the buyer typed on our purchase page.', max_length=64)),
                        ('stripe_promotion_code_id', models.CharField(blank=True, max_length=255)),
                        ('buyer_email', models.EmailField(max_length=254)),
                        ('buyer_name', models.CharField(max_length=150)),
                        ('buyer_company', models.CharField(max_length=200)),
                        ('buyer_vat_id', models.CharField(blank=True, max_length=20, verbose_name='buyer VAT ID')),
                        ('payment_method_type', models.CharField(blank=True, help_text="Stripe's PaymentMethod type (card, sepa_debit, …).", max_length=40)),
                        ('payment_method_description', models.CharField(blank=True, help_text='As the receipt names it.', max_length=200, verbose_name='payment method')),
                        ('status', models.CharField(choices=[('pending', 'Pending payment'), ('paid', 'Paid (preparing the report)'), ('fulfilled', 'Fulfilled'), ('refunded', 'Refunded'), ('disputed', 'Disputed'), ('failed', 'Payment failed'), ('expired', 'Expired')], db_index=True, default='pending', max_length=10)),
                        ('stripe_session_id', models.CharField(blank=True, db_index=True, max_length=255)),
                        ('stripe_session_url', models.URLField(blank=True, max_length=2000)),
                        ('stripe_payment_intent_id', models.CharField(blank=True, db_index=True, max_length=255)),
                        ('stripe_payment_status', models.CharField(blank=True, help_text="The Checkout Session's payment_status, as last seen.", max_length=30)),
                        ('checkout_attempts', models.PositiveSmallIntegerField(default=0)),
                        ('refund_attempts', models.PositiveSmallIntegerField(default=0)),
                        ('amount_subtotal', models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True)),
                        ('amount_discount', models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True)),
                        ('amount_paid', models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True)),
                        ('amount_refunded', models.DecimalField(decimal_places=2, default=0, max_digits=10)),
                        ('stripe_refund_id', models.CharField(blank=True, max_length=255)),
                        ('amount_mismatch', models.BooleanField(default=False, help_text='Stripe reported an amount or currency this order did not expect.')),
                        ('needs_attention', models.BooleanField(db_index=True, default=False)),
                        ('attention_note', models.CharField(blank=True, max_length=500)),
                        ('deliverable_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('paid_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('fulfilled_at', models.DateTimeField(blank=True, null=True)),
                        ('refunded_at', models.DateTimeField(blank=True, null=True)),
                        ('disputed_at', models.DateTimeField(blank=True, null=True)),
                        ('closed_at', models.DateTimeField(blank=True, help_text='When the payment failed or the checkout expired.', null=True)),
                        ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='orders', to='contacts.contact')),
                        ('licence', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='reports.licence')),
                        ('report', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='orders', to='reports.report')),
                    ],
                    options={
                        'db_table': 'reports_order',
                        'ordering': ['-created_at'],
                        'permissions': [('refund_order', 'Can refund orders in Stripe')],
                    },
                ),
                migrations.CreateModel(
                    name='DownloadLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('downloaded_at', models.DateTimeField(auto_now_add=True)),
                        ('ip', models.CharField(blank=True, max_length=45, verbose_name='IP (truncated)')),
                        ('user_agent', models.CharField(blank=True, max_length=300)),
                        ('link', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='downloads', to='orders.downloadlink')),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='downloads', to='orders.order')),
                    ],
                    options={
                        'db_table': 'reports_downloadlog',
                        'ordering': ['-downloaded_at'],
                    },
                ),
                migrations.AddField(
                    model_name='downloadlink',
                    name='order',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='download_links', to='orders.order'),
                ),
                migrations.CreateModel(
                    name='Deliverable',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('path', models.CharField(help_text='A path in storages["private"].', max_length=500)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('order', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='deliverable', to='orders.order')),
                    ],
                    options={
                        'db_table': 'reports_deliverable',
                    },
                ),
                migrations.CreateModel(
                    name='StripeEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('stripe_id', models.CharField(max_length=255, unique=True, verbose_name='Stripe event id')),
                        ('type', models.CharField(db_index=True, max_length=100)),
                        ('livemode', models.BooleanField(default=False)),
                        ('api_version', models.CharField(blank=True, max_length=40)),
                        ('stripe_created', models.DateTimeField(blank=True, null=True)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('processed', 'Processed'), ('ignored', 'Stored, not handled'), ('failed', 'Failed')], db_index=True, default='pending', max_length=10)),
                        ('result', models.CharField(blank=True, max_length=500)),
                        ('last_error', models.TextField(blank=True)),
                        ('received_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('processed_at', models.DateTimeField(blank=True, null=True)),
                        ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='stripe_events', to='orders.order')),
                    ],
                    options={
                        'verbose_name': 'Stripe event',
                        'db_table': 'reports_stripeevent',
                        'ordering': ['-received_at'],
                    },
                ),
                migrations.CreateModel(
                    name='OrderEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('created', 'Order created'), ('checkout_started', 'Checkout started'), ('checkout_error', 'Checkout could not start'), ('payment_processing', 'Payment processing'), ('paid', 'Paid'), ('amount_mismatch', 'Amount mismatch'), ('deliverable_ready', 'Report prepared and link sent'), ('deliverable_error', 'Report preparation failed'), ('link_issued', 'New download link sent'), ('link_extended', 'Download link extended'), ('payment_failed', 'Payment failed'), ('expired', 'Checkout expired'), ('refund_requested', 'Refund requested'), ('refunded', 'Refunded'), ('partially_refunded', 'Partially refunded'), ('disputed', 'Disputed'), ('note', 'Note')], max_length=20)),
                        ('message', models.CharField(blank=True, max_length=500)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='orders.order')),
                        ('stripe_event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='orders.stripeevent')),
                    ],
                    options={
                        'db_table': 'reports_orderevent',
                        'ordering': ['created_at', 'pk'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='order',
                    constraint=models.CheckConstraint(condition=models.Q(('price__gt', 0)), name='order_price_positive'),
                ),
            ],
        ),
    ]

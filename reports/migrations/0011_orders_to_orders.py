"""Orders moved to their own app (orders/0001): forgotten here, in Django's state only."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0010_search_ranking_and_estimates'),
    ]

    operations = [
        # The tables stay as they are: only Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='deliverable',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='downloadlink',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='downloadlog',
                    name='link',
                ),
                migrations.RemoveField(
                    model_name='downloadlog',
                    name='order',
                ),
                migrations.RemoveConstraint(
                    model_name='order',
                    name='order_price_positive',
                ),
                migrations.RemoveField(
                    model_name='orderevent',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='stripeevent',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='orderevent',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='orderevent',
                    name='stripe_event',
                ),
                migrations.DeleteModel(
                    name='OrderReferenceCounter',
                ),
                migrations.DeleteModel(
                    name='Deliverable',
                ),
                migrations.DeleteModel(
                    name='DownloadLink',
                ),
                migrations.DeleteModel(
                    name='DownloadLog',
                ),
                migrations.RemoveField(
                    model_name='order',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='order',
                    name='licence',
                ),
                migrations.RemoveField(
                    model_name='order',
                    name='report',
                ),
                migrations.DeleteModel(
                    name='OrderEvent',
                ),
                migrations.DeleteModel(
                    name='StripeEvent',
                ),
                migrations.DeleteModel(
                    name='Order',
                ),
            ],
        ),
    ]

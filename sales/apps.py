from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sales_group_sync(**kwargs):
    # The Sales group's set (enquiries/services/sales_group.py) names this app's models;
    # their permissions exist only once this app's own post_migrate created them, after
    # enquiries' sync ran, so the set is applied again here.
    from enquiries.services.sales_group import sales_group_sync

    sales_group_sync()


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = "Sales desk"

    def ready(self):
        post_migrate.connect(_sales_group_sync, sender=self, dispatch_uid="sales-group-sync-2")
        from enquiries.services.followups import followup_reply_recipient_register
        from orders.journey import buyer_journey_register

        from . import receivers
        from .selectors.journey import buyer_journey
        from .selectors.leads import lead_owner_email

        receivers.connect()  # samples, enquiries, orders and contacts mark scores stale
        buyer_journey_register(buyer_journey)  # the order page's one-line journey
        followup_reply_recipient_register(lead_owner_email)  # a reply to a follow-up

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sales_group_sync(**kwargs):
    from .services.sales_group import sales_group_sync

    sales_group_sync()


class EnquiriesConfig(AppConfig):
    name = "enquiries"
    verbose_name = "Leads and enquiries"

    def ready(self):
        # Every `migrate` re-applies the Sales permission set, so models added by later
        # migrations (sample requests, orders) are covered without a manual step. Apps migrate
        # in INSTALLED_APPS order, so reports' permissions exist when this runs.
        post_migrate.connect(_sales_group_sync, sender=self, dispatch_uid="sales-group-sync")
        from orders.quotes import quote_reply_lookup_register

        from . import jobs, receivers  # noqa: F401 - jobs registers the kinds of background job
        from .services import followups  # noqa: F401 - registers the follow-up email's outcome
        from .services.enquiries import quote_reply_find

        receivers.connect()  # a report published tells its enquirers
        from reports.services.related import co_interest_source_register

        from .selectors import sample_co_interest

        co_interest_source_register(sample_co_interest)  # "readers who requested this sample…"
        quote_reply_lookup_register(quote_reply_find)  # a quote link names one of our replies

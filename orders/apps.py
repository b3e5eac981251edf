from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Everything from Pay to the download: orders, Stripe Checkout and webhooks, fulfilment,
    download links, refunds, reconciliation and special-price quotes."""

    name = "orders"
    verbose_name = "Orders and sales"

    def ready(self):
        from reports.signals import report_edition_published

        from . import jobs  # noqa: F401 - registers the kinds of background job
        from .services.editions import edition_published_receive

        # A new edition of a report: its buyers get it, or an upgrade offer.
        report_edition_published.connect(
            edition_published_receive, dispatch_uid="orders-edition-notices"
        )

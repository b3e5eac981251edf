from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Everything from Pay to the download: orders, Stripe Checkout and webhooks, fulfilment,
    download links, refunds, reconciliation and special-price quotes."""

    name = "orders"
    verbose_name = "Orders and sales"

    def ready(self):
        from . import jobs  # noqa: F401 - registers the kinds of background job

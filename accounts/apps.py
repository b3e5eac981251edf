from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Buyers' accounts: sign-in by an emailed one-time link (no password), "My reports" (every
    order bought with the signed-in address), and the seats of multi-user licences.

    A separate app above `orders` (it imports orders; orders never imports it): what a buyer
    owns, and the rules about it, stay in orders (seats, links, refunds); this app is the
    buyer's door to them."""

    name = "accounts"
    verbose_name = "Buyer accounts"

    def ready(self):
        from . import jobs  # noqa: F401 - registers the kinds of background job

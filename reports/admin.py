from . import admin_orders  # noqa: F401 - orders, Stripe events and sales (issue 6)

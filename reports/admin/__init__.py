"""Django admin for the catalogue, its PDFs, and orders. Each part keeps its admin classes in
its own module."""

from . import (
    catalogue,  # noqa: F401 - reports and every part of them
    documents,  # noqa: F401 - rendered PDFs
    orders,  # noqa: F401 - orders, Stripe events and the sales summary
)

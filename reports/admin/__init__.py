"""Django admin for the catalogue and its PDFs (orders: orders/admin.py). Each part keeps its
admin classes in its own module."""

from . import (
    catalogue,  # noqa: F401 - reports and every part of them
    documents,  # noqa: F401 - rendered PDFs
    editions,  # noqa: F401 - publishing a new edition
)

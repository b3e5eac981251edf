"""Django admin for leads. Each feature keeps its admin classes in its own module."""

# The sales inbox: enquiries, reply templates, contacts and their whole journey (issue 5).
# Sample requests and the mail log (issue 4).
from . import (
    admin_inbox,  # noqa: F401
    admin_samples,  # noqa: F401
)

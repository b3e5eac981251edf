"""Django admin for leads. Each feature keeps its admin classes in its own module."""

# --- Sample requests and the mail log (issue 4) -------------------------------------------
from . import admin_samples  # noqa: F401 - registers SampleRequestAdmin, OutboundEmailAdmin

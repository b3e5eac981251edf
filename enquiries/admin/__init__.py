"""Django admin for leads. Each feature keeps its admin classes in its own module."""

from . import (
    contacts,  # noqa: F401 - contacts and their journey; canned reply templates
    inbox,  # noqa: F401 - the sales inbox: enquiries, threads, replies
    mail,  # noqa: F401 - the mail log
    samples,  # noqa: F401 - sample requests
)

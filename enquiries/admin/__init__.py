"""Django admin for leads. Each feature keeps its admin classes in its own module."""

from . import (
    followups,  # noqa: F401 - sample follow-ups: steps and sequences
    inbound,  # noqa: F401 - customers' emails read from the inbound mailbox; unmatched ones
    inbox,  # noqa: F401 - the sales inbox: enquiries, threads, replies, reply templates
    samples,  # noqa: F401 - sample requests
)

"""Django admin for leads. Each feature keeps its admin classes in its own module."""

from . import (
    followups,  # noqa: F401 - sample follow-ups: steps and sequences
    inbox,  # noqa: F401 - the sales inbox: enquiries, threads, replies, reply templates
    samples,  # noqa: F401 - sample requests
)

"""The buyer's journey in one line on an order's admin page ("first sample 12 days before
buying, from campaign X, 2 enquiries, answered by Y"). Samples and enquiries live above
orders, so the line is written by the app that reads them all (sales/selectors/journey.py),
registered here: this module imports nothing above orders."""

from collections.abc import Callable

_describe: Callable[[object], str] | None = None


def buyer_journey_register(describe: Callable[[object], str]) -> None:
    """`describe(order)` returns the line (or "" when there is nothing to say)."""
    global _describe
    _describe = describe


def buyer_journey(order) -> str:
    return (_describe(order) if _describe is not None else "") or "—"

"""Filters for sentences that end with a value a visitor typed."""

from django import template

register = template.Library()

_ENDINGS = (".", "!", "?", "…")


@register.filter
def full_stop(value) -> str:
    """The value closing a sentence: "Pfizer Example Inc." stays as it is, "Acme" becomes
    "Acme." — never "Inc.." (the template writes no full stop of its own after it)."""
    text = str(value).rstrip()
    return text if text.endswith(_ENDINGS) else f"{text}."

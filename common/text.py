"""Text checks and masks used by both apps' forms, pages and emails."""

import re

from django.core.exceptions import ValidationError

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def no_control_characters(value: str):
    """Rejects CR/LF and other control characters: they have no place in a name or company
    and are how header injection (``\\r\\nBcc: …``) is attempted."""
    if CONTROL_CHARS.search(value or ""):
        raise ValidationError("Please remove line breaks and special characters.", code="control")


def mask_email(address: str) -> str:
    """ "jane@acme.com" -> "j•••@acme.com": enough for the visitor to recognise, not to read."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"

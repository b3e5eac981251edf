"""Text checks and masks used by both apps' forms, pages and emails."""

import re

from django.core.exceptions import ValidationError

# C0 controls, DEL and the C1 controls: no typed name, company or search has them, and CR/LF
# are how header injection (``\r\nBcc: …``) is attempted.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LINE_BREAKS = re.compile(r"\r\n?")


def no_control_characters(value: str):
    """Rejects CR/LF and other control characters in single-line text."""
    if CONTROL_CHARS.search(value or ""):
        raise ValidationError("Please remove line breaks and special characters.", code="control")


def multiline_text_clean(value: str) -> str:
    """Typed multi-line text (a question, a message): line breaks become "\\n", tabs
    spaces; any other control character is refused, so none is ever stored."""
    text = LINE_BREAKS.sub("\n", value or "").replace("\t", " ").strip()
    if CONTROL_CHARS.search(text.replace("\n", " ")):
        raise ValidationError("Please remove special characters.", code="control")
    return text


def control_characters_strip(value: str) -> str:
    """Text we record but nobody typed into a form (a query parameter, a user agent):
    whitespace controls become spaces, the other control characters are dropped."""
    return CONTROL_CHARS.sub(lambda m: " " if m.group() in "\t\n\r" else "", value or "")


def mask_email(address: str) -> str:
    """ "jane@acme.com" -> "j•••@acme.com": enough for the visitor to recognise, not to read."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"

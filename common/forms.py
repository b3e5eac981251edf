"""Autofill hints for the personal fields the public forms ask for (sample, enquiry,
purchase, alerts, My reports sign-in), defined once so every form fills the same way on a
phone: `autocomplete` lets the browser offer the visitor's saved details, `inputmode` picks the
keyboard. Tokens: https://html.spec.whatwg.org/multipage/form-control-infrastructure.html#autofill"""

from django import forms

PERSONAL_FIELD_HINTS: dict[str, dict[str, str]] = {
    "name": {"autocomplete": "name", "inputmode": "text", "autocapitalize": "words"},
    "email": {
        "autocomplete": "email",
        "inputmode": "email",
        "autocapitalize": "none",
        "spellcheck": "false",
    },
    "company": {"autocomplete": "organization", "inputmode": "text"},
    "job_title": {"autocomplete": "organization-title", "inputmode": "text"},
    # A <select>: no keyboard to choose, so no inputmode.
    "country": {"autocomplete": "country"},
    "phone": {"autocomplete": "tel", "inputmode": "tel"},
    # There is no autofill token for a VAT ID; "on" lets the browser offer what the buyer
    # typed before, and the keyboard starts in capitals (DE123456789).
    "vat_id": {
        "autocomplete": "on",
        "inputmode": "text",
        "autocapitalize": "characters",
        "spellcheck": "false",
    },
}


def personal_field_hints_add(form: forms.BaseForm) -> None:
    """Give each personal field of `form` its autofill and keyboard hints."""
    for name, hints in PERSONAL_FIELD_HINTS.items():
        if name in form.fields:
            form.fields[name].widget.attrs.update(hints)

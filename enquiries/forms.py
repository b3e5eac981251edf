"""The fields every lead form shares. Sample-request and pre-order forms extend LeadForm."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django_countries.fields import CountryField
from phonenumber_field.formfields import PhoneNumberField

from .antispam import SpamProtectedForm

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def no_control_characters(value: str):
    """Rejects CR/LF and other control characters: they have no place in a name or company
    and are how header injection (``\\r\\nBcc: …``) is attempted."""
    if CONTROL_CHARS.search(value or ""):
        raise ValidationError("Please remove line breaks and special characters.", code="control")


CONSENT_VERSION = "2025-03"
CONSENT_TEXT = (
    "I agree that {publisher} may store these details and email me about this report, "
    "as described in the privacy notice."
)


class LeadForm(SpamProtectedForm):
    name = forms.CharField(label="Full name", max_length=150, validators=[no_control_characters])
    email = forms.EmailField(
        label="Business email",
        max_length=254,
        help_text="We send the document to this address.",
    )
    company = forms.CharField(max_length=200, validators=[no_control_characters])
    job_title = forms.CharField(max_length=150, validators=[no_control_characters])
    country = CountryField(blank_label="Select your country").formfield()
    phone = PhoneNumberField(
        label="Phone (optional)",
        required=False,
        help_text="With the country code, e.g. +1 415 555 0100.",
    )
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": "Please agree so that we can send you the document."},
    )

    def __init__(self, *args, publisher: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        privacy = reverse_lazy("privacy")
        self.fields["consent"].label = CONSENT_TEXT.format(publisher=publisher or "we")
        self.fields["consent"].help_text = f'<a href="{privacy}">Privacy notice</a>'

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

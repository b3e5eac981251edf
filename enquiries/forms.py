"""The fields every lead form shares. Sample-request and pre-order forms extend LeadForm."""

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Layout, Row, Submit
from django import forms
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse_lazy
from django_countries.fields import CountryField
from phonenumber_field.formfields import PhoneNumberField

from .antispam import SIGNER_SALT, SpamProtectedForm

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


# --- Sample requests ----------------------------------------------------------------------


class SampleRequestForm(LeadForm):
    message = forms.CharField(
        label="Anything we should know? (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E.g. the segment or region you are most interested in.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-6"), Column("email", css_class="col-md-6")),
            Row(Column("company", css_class="col-md-6"), Column("job_title", css_class="col-md-6")),
            Row(Column("country", css_class="col-md-6"), Column("phone", css_class="col-md-6")),
            "message",
            "consent",
            Div("website", css_class="hp-field", aria_hidden="true"),
            "form_started",
            Submit("submit", "Email me the free sample", css_class="btn-primary btn-lg"),
        )

    def clean_message(self):
        # Line breaks are fine in a message; other control characters are not.
        message = self.cleaned_data["message"].replace("\r\n", "\n").strip()
        no_control_characters(message.replace("\n", " ").replace("\t", " "))
        return message

    def full_clean(self):
        super().full_clean()
        if self.is_bound and self.has_error(NON_FIELD_ERRORS, "expired"):
            # The signed start time has expired: the page shown again gets a fresh one, so
            # the visitor can send it after checking their details.
            self.data = self.data.copy()
            self.data["form_started"] = signing.TimestampSigner(salt=SIGNER_SALT).sign("form")

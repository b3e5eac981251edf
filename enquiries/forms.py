"""The fields every lead form shares. Sample-request and pre-order forms extend LeadForm."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Layout, Row, Submit
from django import forms
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS
from django.urls import reverse_lazy
from django_countries.fields import CountryField
from phonenumber_field.formfields import PhoneNumberField

from common.antispam import SIGNER_SALT, SpamProtectedForm
from common.forms import personal_field_hints_add
from common.text import multiline_text_clean, no_control_characters
from contacts.services.marketing import marketing_consent_text

from .models import CONSENT_TEXT, Enquiry


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
    # Separate from the consent above, never ticked for the visitor, and nothing on the form
    # depends on it (contacts/services/marketing.py records it with these words).
    marketing = forms.BooleanField(required=False)

    def __init__(self, *args, publisher: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        personal_field_hints_add(self)
        privacy = reverse_lazy("privacy")
        self.fields["consent"].label = CONSENT_TEXT.format(publisher=publisher or "we")
        self.fields["consent"].help_text = f'<a href="{privacy}">Privacy notice</a>'
        self.fields["marketing"].label = marketing_consent_text()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())


# --- Pre-order enquiries (issue 5) --------------------------------------------------------


class EnquiryForm(LeadForm):
    """The pre-order enquiry: the lead fields plus what the visitor wants to know."""

    type = forms.ChoiceField(label="What is your enquiry about?", choices=())
    licence = forms.ModelChoiceField(
        label="Licence of interest",
        queryset=None,
        required=False,
        empty_label="Not sure yet",
    )
    question = forms.CharField(
        label="Your question",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Licences, scope, a custom cut of the data, delivery dates, a discount: ask away.",
    )

    field_order = [
        "type",
        "licence",
        "question",
        "name",
        "email",
        "company",
        "job_title",
        "country",
        "phone",
        "consent",
        "marketing",
    ]

    def __init__(self, *args, report, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report
        self.fields["type"].choices = Enquiry.Type.choices
        self.fields["licence"].queryset = report.licences.filter(is_active=True).order_by(
            "position", "pk"
        )
        self.fields["email"].help_text = "We answer to this address."
        self.fields["consent"].error_messages["required"] = (
            "Please agree so that we can answer your question."
        )

    def clean_question(self):
        return multiline_text_clean(self.cleaned_data["question"])

    def contact_details(self) -> dict:
        data = self.cleaned_data
        fields = ("email", "name", "company", "job_title", "country", "phone")
        return {field: data.get(field) or "" for field in fields}


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
            "marketing",
            Div("website", css_class="hp-field", aria_hidden="true"),
            "form_started",
            Submit("submit", "Email me the free sample", css_class="btn-primary btn-lg"),
        )

    def clean_message(self):
        return multiline_text_clean(self.cleaned_data["message"])

    def full_clean(self):
        super().full_clean()
        if self.is_bound and self.has_error(NON_FIELD_ERRORS, "expired"):
            # The signed start time has expired: the page shown again gets a fresh one, so
            # the visitor can send it after checking their details.
            self.data = self.data.copy()
            self.data["form_started"] = signing.TimestampSigner(salt=SIGNER_SALT).sign("form")

"""The purchase form. A quote (a signed link from sales) fixes the licence, the price and
the email: those fields are disabled, so Django ignores whatever the browser posts for them."""

import re

from django import forms
from django.conf import settings

from common.antispam import SpamProtectedForm
from common.forms import personal_field_hints_add
from common.text import no_control_characters
from contacts.services.marketing import marketing_consent_text
from reports.models import Licence

VAT_ID = re.compile(r"^[A-Z]{2}[A-Z0-9]{2,13}$")
PROMOTION_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PurchaseForm(SpamProtectedForm):
    licence = forms.ChoiceField(
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose a licence."},
    )
    email = forms.EmailField(
        max_length=254,
        help_text="Your receipt and the download link go to this address.",
    )
    name = forms.CharField(label="Full name", max_length=150, validators=[no_control_characters])
    company = forms.CharField(
        max_length=120,
        validators=[no_control_characters],
        help_text="Printed on every page of your licensed copy.",
    )
    vat_id = forms.CharField(
        label="VAT ID (optional)",
        max_length=20,
        required=False,
        help_text="For EU/UK businesses, e.g. DE123456789. Shown on your receipt.",
    )
    promotion_code = forms.CharField(
        label="Promotion code (optional)",
        max_length=64,
        required=False,
        help_text="You can also enter a code on the payment page.",
    )
    terms = forms.BooleanField(
        label="I accept the terms of sale and the licence terms shown above.",
        error_messages={"required": "Please accept the terms to continue."},
    )
    # Separate from the terms, never ticked for the buyer; buying does not depend on it.
    marketing = forms.BooleanField(required=False)
    quote = forms.CharField(widget=forms.HiddenInput, required=False)
    # The currency the page showed the prices in: the order is in it, whatever the visitor's
    # choice is by the time they press Pay (another tab may have changed it).
    currency = forms.ChoiceField(
        widget=forms.HiddenInput,
        choices=[(code, code) for code in settings.CURRENCIES],
        required=False,  # then the visitor's current one
        error_messages={"invalid_choice": "Choose a currency we sell in and try again."},
    )

    def __init__(self, *args, licences: list[Licence], quote_terms=None, **kwargs):
        super().__init__(*args, **kwargs)
        personal_field_hints_add(self)
        self.fields["marketing"].label = marketing_consent_text()
        self.licences = {licence.kind: licence for licence in licences}
        self.fields["licence"].choices = [(kind, kind) for kind in self.licences]
        if quote_terms is not None:
            self._lock_to_quote(quote_terms)

    def _lock_to_quote(self, terms):
        self.fields["licence"].choices = [(terms.licence.kind, terms.licence.kind)]
        self.fields["licence"].initial = terms.licence.kind
        self.fields["licence"].disabled = True
        self.fields["email"].initial = terms.quote_email
        self.fields["email"].disabled = True
        self.fields["email"].help_text = "The quote is for this address."
        del self.fields["promotion_code"]  # a quoted price is final

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_name(self):
        return " ".join(self.cleaned_data["name"].split())

    def clean_company(self):
        return " ".join(self.cleaned_data["company"].split())

    def clean_vat_id(self):
        value = re.sub(r"[\s.\-]", "", self.cleaned_data["vat_id"]).upper()
        if value and not VAT_ID.match(value):
            raise forms.ValidationError(
                "Enter the VAT ID with its country prefix, e.g. DE123456789.", code="vat_id"
            )
        return value

    def clean_promotion_code(self):
        value = self.cleaned_data["promotion_code"].strip()
        if value and not PROMOTION_CODE.match(value):
            raise forms.ValidationError(
                "A promotion code has only letters, digits, - and _.", code="promotion_code"
            )
        return value

    @property
    def chosen_licence(self) -> Licence:
        return self.licences[self.cleaned_data["licence"]]

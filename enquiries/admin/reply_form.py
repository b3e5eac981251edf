"""The reply form on an enquiry's page."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from common.text import CONTROL_CHARS

from ..models import Enquiry, ReplyTemplate


class ReplyForm(forms.Form):
    template = forms.ModelChoiceField(
        queryset=ReplyTemplate.objects.filter(is_active=True),
        required=False,
        widget=forms.HiddenInput,
    )
    subject = forms.CharField(max_length=200)
    body = forms.CharField(
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Your sign-off, the purchase link and the customer's question are added "
        "below the text.",
    )
    attach_sample = forms.BooleanField(
        required=False,
        label="Attach a sample stamped for this contact",
    )
    licence = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="No purchase link",
        label="Purchase link for",
    )
    quoted_price = forms.DecimalField(
        required=False,
        max_digits=10,
        decimal_places=2,
        min_value=1,
        label="Special price (optional)",
        help_text="With a price, the link is a signed checkout at that price for this contact.",
    )
    currency = forms.TypedChoiceField(
        choices=[(code, code) for code in settings.CURRENCIES],
        initial=settings.DEFAULT_CURRENCY,
        required=False,  # the default currency
        help_text="Of the special price, and of the list price the link opens in.",
    )

    def __init__(self, *args, enquiry: Enquiry, **kwargs):
        super().__init__(*args, **kwargs)
        self.enquiry = enquiry
        self.fields["licence"].queryset = enquiry.report.licences.filter(is_active=True)

    def clean_subject(self):
        subject = self.cleaned_data["subject"]
        if CONTROL_CHARS.search(subject):
            raise ValidationError("Remove line breaks and special characters.")
        return subject

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("quoted_price") is not None and not cleaned.get("licence"):
            self.add_error("licence", "Choose the licence the special price is for.")
        return cleaned

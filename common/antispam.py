"""Spam protection shared by every public form: a honeypot field and a minimum time to fill
the form (a signed timestamp). A rejected post stores nothing and queues nothing. Rate limits
are in `common.ratelimit`."""

from django import forms
from django.conf import settings
from django.core import signing

SIGNER_SALT = "enquiries.form-started"  # kept: forms already shown stay valid


class SpamProtectedForm(forms.Form):
    """Mix into a lead form. Render `website` hidden (the `.hp-field` class hides it) and
    keep `form_started` as the form's initial value."""

    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    form_started = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["form_started"] = signing.TimestampSigner(salt=SIGNER_SALT).sign("form")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("website"):
            raise forms.ValidationError(
                "Your request could not be accepted. Please try again.", code="spam"
            )
        self._check_fill_time(cleaned.get("form_started") or "")
        return cleaned

    @staticmethod
    def _check_fill_time(token: str):
        signer = signing.TimestampSigner(salt=SIGNER_SALT)
        try:
            signer.unsign(token, max_age=settings.FORM_MAX_AGE_SECONDS)
        except signing.SignatureExpired:
            raise forms.ValidationError(
                "This form was open too long. Please check your details and send it again.",
                code="expired",
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                "Your request could not be accepted. Please try again.", code="spam"
            ) from None
        try:
            signer.unsign(token, max_age=settings.FORM_MIN_FILL_SECONDS)
        except signing.SignatureExpired:
            return  # older than the minimum: a person had time to read and type
        raise forms.ValidationError(
            "That was very fast. Please check your details and send the form again.",
            code="too_fast",
        )

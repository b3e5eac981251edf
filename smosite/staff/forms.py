"""The staff sign-in form (password, then the authenticator code for staff who have one) and
the enrolment form."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice

CODE_WIDGET = forms.TextInput(
    attrs={
        "autocomplete": "one-time-code",
        "inputmode": "numeric",
        "pattern": "[0-9]*",
        "maxlength": "6",
        "size": "8",
    }
)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


class StaffAuthenticationForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=6,
        widget=CODE_WIDGET,
        help_text="Six digits from your authenticator app. Leave it empty if you have not set "
        "one up yet.",
    )
    otp_error_messages = OTPAuthenticationFormMixin.otp_error_messages | {
        "token_required": "Enter the six-digit code from your authenticator app.",
        "invalid_token": "That code is not right (or has expired). Enter the current one.",
    }

    def clean(self):
        super().clean()
        user = self.get_user()
        if user is not None and confirmed_device(user) is not None:
            try:
                self.clean_otp(user)
            except forms.ValidationError:
                # A wrong code after the right password counts towards the lockout too.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": self.cleaned_data.get("username", "")},
                    request=self.request,
                )
                raise
        return self.cleaned_data

    def _chosen_device(self, user):
        """One authenticator per person: no device menu on the sign-in page."""
        return confirmed_device(user)


class EnrolmentForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from the app", min_length=6, max_length=6, widget=CODE_WIDGET
    )

    def __init__(self, *args, device: TOTPDevice, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_otp_token(self):
        token = self.cleaned_data["otp_token"].strip()
        allowed, _ = self.device.verify_is_allowed()
        if not allowed:  # each wrong code doubles the wait before the next is checked
            raise forms.ValidationError("Too many wrong codes: wait a minute, then try again.")
        if not token.isdigit() or not self.device.verify_token(token):
            raise forms.ValidationError(
                "That code is not right. Check the app's clock and enter the current code."
            )
        return token

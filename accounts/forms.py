from django import forms

from common.forms import PERSONAL_FIELD_HINTS
from common.text import no_control_characters


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="Email address",
        widget=forms.EmailInput(attrs=PERSONAL_FIELD_HINTS["email"]),
        help_text="The address you bought with. We email it a sign-in link.",
    )


class SeatForm(forms.Form):
    """A colleague's name and address: not the buyer's own, so the browser offers no autofill."""

    name = forms.CharField(
        max_length=150,
        validators=[no_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
    )

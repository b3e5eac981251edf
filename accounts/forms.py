from django import forms

from common.text import no_control_characters


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="Email address",
        help_text="The address you bought with. We email it a sign-in link.",
    )


class SeatForm(forms.Form):
    name = forms.CharField(max_length=150, validators=[no_control_characters])
    email = forms.EmailField(max_length=254)

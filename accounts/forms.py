from django import forms


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        label="Email address",
        help_text="The address you bought with. We email it a sign-in link.",
    )

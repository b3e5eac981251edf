from django import forms

from .selectors.dashboard import Range

MAX_DAYS = 3660


class DashboardRangeForm(forms.Form):
    """The dashboard's date range (a GET form: the URL names what is shown)."""

    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    @staticmethod
    def defaults() -> dict:
        since, until = Range.default_days()
        return {"since": since, "until": until}

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                raise forms.ValidationError("The start date is after the end date.")
            if (until - since).days > MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        return data


class LeadCallForm(forms.Form):
    outcome = forms.ChoiceField(choices=())
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea({"rows": 2}))

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = choices

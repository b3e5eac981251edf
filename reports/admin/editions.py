"""Staff publish a new edition of a report: Report editions → Add. Saving calls the same
service as any other route (reports/services/editions.py); an edition once published is
history, not edited. Publishing the same report and date again re-runs the notices (each
buyer is still told once)."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError

from ..models import Report, ReportEdition
from ..services.editions import report_edition_publish


class ReportEditionForm(forms.ModelForm):
    class Meta:
        model = ReportEdition
        fields = ["report", "edition_date", "upgrade_discount_percent", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "report" not in self.fields:  # the view-only page of a published edition
            return
        self.fields["report"].queryset = Report.objects.filter(status=Report.Status.PUBLISHED)
        discount = self.fields["upgrade_discount_percent"]
        discount.initial = settings.NEW_EDITION_UPGRADE_DISCOUNT_PERCENT

    def validate_unique(self):
        """The same report and date again is a "publish again", not an error."""

    def validate_constraints(self):
        """As `validate_unique`: the service finds the edition and publishes it again."""

    def clean(self):
        cleaned = super().clean()
        report, edition_date = cleaned.get("report"), cleaned.get("edition_date")
        known = ReportEdition.objects.filter(report=report, edition_date=edition_date).exists()
        if report and edition_date and not known and edition_date <= report.edition_date:
            raise ValidationError(
                {
                    "edition_date": f"A new edition is dated after the current one "
                    f"({report.edition_date:%-d %B %Y})."
                }
            )
        return cleaned


@admin.register(ReportEdition)
class ReportEditionAdmin(admin.ModelAdmin):
    form = ReportEditionForm
    list_display = ["report", "edition_date", "upgrade_discount_percent", "published_at"]
    list_select_related = ["report"]
    search_fields = ["report__title", "=report__number"]
    autocomplete_fields = ["report"]
    readonly_fields = ["published_at", "published_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        edition = report_edition_publish(
            report=data["report"],
            edition_date=data["edition_date"],
            upgrade_discount_percent=data["upgrade_discount_percent"],
            note=data["note"],
            actor=request.user,
        )
        obj.pk = edition.pk
        obj._state.adding = False

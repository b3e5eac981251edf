"""The publishing gate in admin: a filter for reports with open quality errors, the
acknowledgements (who, when, why) on the report's page, and the page where staff
acknowledge one error with a note."""

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from ..models import QualityAcknowledgement, Report
from ..services.publishing import finding_fingerprint, report_quality_acknowledge
from ..services.quality import Finding, report_quality_findings


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    fingerprint: str
    acknowledgement: QualityAcknowledgement | None


class OpenErrorsFilter(admin.SimpleListFilter):
    title = "quality check"
    parameter_name = "quality"

    def lookups(self, request, model_admin):
        return [("open", "Errors to acknowledge"), ("clear", "No open errors")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(quality_open_errors__gt=0)
        if self.value() == "clear":
            return queryset.filter(quality_open_errors=0)
        return queryset


@admin.register(QualityAcknowledgement)
class QualityAcknowledgementAdmin(admin.ModelAdmin):
    """Every acknowledgement, read-only: the record of who let which error through, and
    why. They are made from the report's page, one error at a time."""

    list_display = ["report", "code", "acknowledged_by_name", "acknowledged_at"]
    list_filter = ["code"]
    list_select_related = ["report"]
    search_fields = ["=report__number", "report__title", "note", "acknowledged_by_name"]
    readonly_fields = [
        "report",
        "code",
        "message",
        "note",
        "acknowledged_by",
        "acknowledged_by_name",
        "acknowledged_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text="Why may the report be published with this error? Kept with your name "
        "and the time, and shown on the report's page in admin.",
    )


class AcknowledgeView:
    """GET shows the error and a note field; POST records the acknowledgement."""

    def __init__(self, model_admin):
        self.model_admin = model_admin

    def dispatch(self, request, report_id, fingerprint):
        if not request.user.has_perm("reports.change_report"):
            raise PermissionDenied
        report = get_object_or_404(Report, pk=report_id)
        back = reverse("admin:reports_report_change", args=[report.pk])
        finding = next(
            (
                f
                for f in report_quality_findings(report=report)
                if f.is_error and finding_fingerprint(f) == fingerprint
            ),
            None,
        )
        if finding is None:
            messages.warning(request, "That error is no longer found: nothing to acknowledge.")
            return redirect(back)
        form = AcknowledgeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                report_quality_acknowledge(
                    report=report,
                    finding=finding,
                    note=form.cleaned_data["note"],
                    user=request.user,
                )
            except ValidationError as exc:
                form.add_error("note", exc)
            else:
                messages.success(request, f"Acknowledged: {finding.message}")
                return redirect(back)
        context = {
            **self.model_admin.admin_site.each_context(request),
            "title": f"Acknowledge a quality error of report {report.number}",
            "report": report,
            "finding": finding,
            "form": form,
            "back": back,
            "opts": self.model_admin.opts,
        }
        return TemplateResponse(request, "admin/reports/report/acknowledge.html", context)

"""Staff edit reports and every part of them here. Regions hold countries, and the stock
admin cannot nest inlines, so a report's regions are an inline with a link to each region's
own page, where its countries are edited."""

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.forms import NumberInput, Textarea
from django.urls import path, reverse
from django.utils.html import format_html

from common.currency import price_fallback

from ..models import (
    Category,
    FrequentQuestion,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RegionCountry,
    Report,
    Segment,
    TocEntry,
)
from ..services.catalogue import report_published_effects
from ..services.publishing import finding_fingerprint, report_blockers, report_gate_record
from ..services.quality import report_quality_findings
from ..services.search_index import report_search_refresh
from . import imports, quality
from .documents import ReportDocumentsAdminMixin

# Table rows stay readable: short text areas instead of the default ten-line boxes.
COMPACT_TEXT = {models.TextField: {"widget": Textarea(attrs={"rows": 3, "cols": 50})}}


class OrderedInline(admin.TabularInline):
    extra = 0
    ordering = ["position", "pk"]
    formfield_overrides = COMPACT_TEXT


class MarketDynamicInline(OrderedInline):
    model = MarketDynamic
    fields = ["position", "kind", "title", "description"]


class KeyPlayerInline(admin.StackedInline):
    model = KeyPlayer
    extra = 0
    ordering = ["position", "pk"]
    fields = [("name", "position"), "profile", "revenue_note", ("revenue_musd", "growth_percent")]


class SegmentInline(OrderedInline):
    model = Segment
    fields = ["position", "dimension", "name", "description"]


class RegionInline(OrderedInline):
    model = Region
    fields = ["position", "name", "share_percent", "commentary", "country_list"]
    readonly_fields = ["country_list"]
    show_change_link = True

    @admin.display(description="countries (edit on the region's page)")
    def country_list(self, region):
        if not region.pk:
            return "Save first, then add countries on the region's page."
        names = ", ".join(row.country.name for row in region.countries.all())
        return names or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("countries")


class TocEntryInline(OrderedInline):
    model = TocEntry
    fields = ["position", "level", "title"]


class FrequentQuestionInline(admin.StackedInline):
    model = FrequentQuestion
    extra = 0
    ordering = ["position", "pk"]
    fields = [("question", "position"), "answer"]


class LicenceForm(forms.ModelForm):
    """A EUR or GBP price left blank is filled from the USD one at CURRENCY_FALLBACK_RATES,
    rounded to a whole ten (common.currency.price_fallback); staff see it on the next load."""

    class Meta:
        model = Licence
        fields = [
            *("position", "kind", "description", "max_users"),
            *("price", "price_eur", "price_gbp", "is_active"),
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("price_eur", "price_gbp"):
            self.fields[name].required = False
            self.fields[name].help_text = "Blank: from the USD price at the fallback rate."

    def clean(self):
        cleaned = super().clean()
        usd = cleaned.get("price")
        for currency in ("EUR", "GBP"):
            name = Licence.PRICE_FIELDS[currency]
            if cleaned.get(name) is None and usd is not None and usd > 0:
                cleaned[name] = price_fallback(usd=usd, currency=currency)
        return cleaned


class LicenceInline(OrderedInline):
    model = Licence
    form = LicenceForm
    fields = LicenceForm.Meta.fields


class PublishingBlocked(Exception):
    def __init__(self, blockers):
        super().__init__(f"{len(blockers)} unacknowledged quality error(s)")
        self.blockers = blockers


class ReportAdminForm(forms.ModelForm):
    """Shows why a save was refused: `ReportAdmin` checks the report with its inlines as
    saved, rolls the whole save back when it may not be published, and shows the same post
    again with `publishing_blockers` set, so the error sits next to the status field and
    nothing has changed."""

    publishing_blockers: list = []

    def clean(self):
        cleaned = super().clean()
        if self.publishing_blockers and cleaned.get("status") == Report.Status.PUBLISHED:
            self.add_error("status", _blocked_message(self.publishing_blockers))
        return cleaned


def _blocked_message(blockers) -> str:
    listed = " ".join(f"({i}) {f.message}" for i, f in enumerate(blockers, start=1))
    return (
        f"Cannot publish: the quality check finds {len(blockers)} error"
        f"{'s' if len(blockers) != 1 else ''} nobody has acknowledged. {listed} Fix "
        "it, or save the report as a draft and acknowledge it with a note in the Quality "
        "check panel."
    )


@admin.register(Report)
class ReportAdmin(ReportDocumentsAdminMixin, admin.ModelAdmin):
    form = ReportAdminForm
    change_list_template = "admin/reports/report/change_list.html"
    list_display = [
        "number",
        "title",
        "status",
        "category",
        "cagr_percent",
        "edition_date",
        "quality_open_errors",
        "is_demo",
    ]
    list_display_links = ["number", "title"]
    list_filter = ["status", "category", quality.OpenErrorsFilter, "is_demo"]
    search_fields = ["title", "market_name", "=number", "slug"]
    list_select_related = ["category"]
    date_hierarchy = "edition_date"
    save_on_top = True
    readonly_fields = [
        "published_at",
        "created_at",
        "updated_at",
        "pdf_documents",
        "quality_open_errors",
    ]
    formfield_overrides = {
        models.PositiveIntegerField: {"widget": NumberInput(attrs={"style": "width: 9em"})},
        models.TextField: {"widget": Textarea(attrs={"rows": 5, "cols": 90})},
    }
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "title",
                    "slug",
                    "market_name",
                    "category",
                    "status",
                    "is_demo",
                ]
            },
        ),
        (
            "Key metrics",
            {
                "fields": [
                    "cagr_percent",
                    ("forecast_start_year", "forecast_end_year"),
                    ("base_year_market_size", "market_size_currency"),
                    ("edition_date", "page_count"),
                ]
            },
        ),
        (
            "Texts",
            {"fields": Report.LONG_TEXT_FIELDS},
        ),
        ("PDF documents", {"fields": ["pdf_documents"]}),
        ("Search engines", {"fields": ["seo_description"]}),
        (
            "History",
            {"fields": ["published_at", "created_at", "updated_at", "quality_open_errors"]},
        ),
    ]
    inlines = [
        LicenceInline,
        MarketDynamicInline,
        SegmentInline,
        RegionInline,
        KeyPlayerInline,
        TocEntryInline,
        FrequentQuestionInline,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(imports.ImportView(self).dispatch), name="reports_report_import"),
            path(
                "<int:report_id>/acknowledge/<str:fingerprint>/",
                wrap(quality.AcknowledgeView(self).dispatch),
                name="reports_report_acknowledge",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if report is not None:
            findings = report_quality_findings(report=report)
            done = {a.fingerprint: a for a in report.quality_acknowledgements.all()}
            extra_context["quality_findings"] = [
                quality.FindingRow(
                    finding=finding,
                    fingerprint=finding_fingerprint(finding),
                    acknowledgement=done.pop(finding_fingerprint(finding), None),
                )
                for finding in findings
            ]
            # Acknowledged errors the check no longer finds (fixed, or worded otherwise).
            extra_context["past_acknowledgements"] = list(done.values())
        return super().change_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        blockers = getattr(request, "_publishing_blockers", None)
        if blockers:
            form = type(form.__name__, (form,), {"publishing_blockers": blockers})
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PublishingBlocked as blocked:
            # The save was rolled back (changeform_view is atomic); show the post again.
            request._publishing_blockers = blocked.blockers
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        request._report_was_published = (
            change and form.initial.get("status") == Report.Status.PUBLISHED
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        """After the inlines: search fields, then the publishing gate on the report as saved
        (refusing rolls the whole save back), then what publishing sets off. No PDF is
        rendered here: they are rendered when first needed."""
        super().save_related(request, form, formsets, change)
        report = form.instance
        report_search_refresh(report=report)
        if report.status == Report.Status.PUBLISHED:
            blockers = report_blockers(report=report)
            if blockers:
                raise PublishingBlocked(blockers)
        report_gate_record(report=report)
        was_published = getattr(request, "_report_was_published", False)
        report_published_effects(report=report, was_published=was_published)


class RegionCountryInline(OrderedInline):
    model = RegionCountry
    fields = ["position", "country"]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    """A region's page: its countries. Reached from the Regions inline of its report."""

    list_display = ["name", "report_link", "share_percent", "country_count"]
    list_filter = ["name"]
    search_fields = ["name", "report__title", "=report__number"]
    list_select_related = ["report"]
    fields = ["report", "name", "share_percent", "commentary", "position"]
    autocomplete_fields = ["report"]
    inlines = [RegionCountryInline]

    @admin.display(description="report")
    def report_link(self, region):
        url = reverse("admin:reports_report_change", args=[region.report_id])
        return format_html('<a href="{}">{}</a>', url, region.report)

    @admin.display(description="countries", ordering="country_total")
    def country_count(self, region):
        return region.country_total

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(country_total=Count("countries"))


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

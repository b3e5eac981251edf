"""Admin list filters that offer only the values the list holds: a filter over a field with
choices (or none) would list every country in the world, every licence kind ever defined, or
raw template paths. One mechanism, `OccurringValuesFilter`; the subclasses name the field and
how a value reads."""

from django.contrib import admin
from django_countries import countries


class OccurringValuesFilter(admin.SimpleListFilter):
    """The distinct non-empty values of `field` among the rows the admin may list, each
    labelled by `label` (by default the field's choice label, "Multi-user" for "multi", or
    the value itself), sorted by label."""

    field: str
    choice_labels: dict = {}

    def label(self, value) -> str:
        return str(self.choice_labels.get(value, value))

    def lookups(self, request, model_admin):
        self.choice_labels = dict(model_admin.model._meta.get_field(self.field).flatchoices)
        rows = model_admin.get_queryset(request).exclude(**{self.field: ""}).order_by()
        present = {value for (value,) in rows.values_list(self.field).distinct()}
        return sorted(((value, self.label(value)) for value in present), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


def occurring_values_filter(field: str, title: str = "") -> type[OccurringValuesFilter]:
    """An `OccurringValuesFilter` over a free-text field or one with choices (same URL
    parameter as Django's own filter): Django's would list the blank value as a link with no
    words, which staff cannot read and screen readers announce as an unnamed link, and every
    choice whether any row has it."""
    name = "".join(part.capitalize() for part in field.split("_")) + "PresentFilter"
    attributes = {
        "field": field,
        "parameter_name": field,
        "title": title or field.replace("_", " "),
    }
    return type(name, (OccurringValuesFilter,), attributes)


class CountryPresentFilter(OccurringValuesFilter):
    """Only the countries the rows came from, by name, not all 250 of django-countries."""

    title = "country"
    parameter_name = field = "country"

    def label(self, value) -> str:
        return countries.name(value) or value


class EmailTemplateFilter(OccurringValuesFilter):
    """The mail log's kinds of email in words: "enquiries/email/sample_ready.txt" reads
    "Sample ready (enquiries)"."""

    title = "kind of email"
    parameter_name = field = "template"

    def label(self, value) -> str:
        return email_kind(value)


def email_kind(template: str) -> str:
    """A template path as staff read it."""
    app, _, rest = template.partition("/")
    name = rest.rsplit("/", 1)[-1].split(".", 1)[0] if rest else app
    words = name.replace("_", " ").replace("-", " ").strip().capitalize() or template
    return f"{words} ({app})" if rest else words

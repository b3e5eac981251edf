"""Change pages that show what a record holds rather than every field it could hold.

A sample request or an order seen by staff is mostly read-only, and most of its fields are
empty for any one record (a card order has no invoice, a lead from a search has no campaign):
shown as stacked "-" rows they made those pages 3,100–5,400 px tall (issue 26).
`HideEmptyReadonlyMixin` drops, on the change page of an existing object, every read-only
field whose value is empty, then every line and fieldset left with nothing, and every inline
that has no rows and takes none. Fields the user may edit are always kept (an empty one is
what they came to fill in). Read-only fields are never part of the admin's form, so leaving
them out of the page cannot change them on save."""

from django.contrib.admin.utils import flatten_fieldsets, lookup_field
from django.core.exceptions import ObjectDoesNotExist
from django.db.models.fields.files import FieldFile

# What an empty value reads as: nothing, Django's "-" and the "—" our display methods return.
EMPTY_TEXTS = frozenset({"", "-", "—"})


def value_is_empty(value) -> bool:
    """None, blank or dash-only text, an empty collection or an empty related manager.
    False and 0 are values (a "no" and a count of none say something)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in EMPTY_TEXTS
    if isinstance(value, list | tuple | dict | set | FieldFile):
        return not value
    if hasattr(value, "exists") and hasattr(value, "all"):  # a many-to-many manager
        return not value.exists()
    return False


class HideEmptyReadonlyMixin:
    """For a ModelAdmin with `fieldsets`: on an existing object's page, hide the read-only
    fields that are empty (see the module's docstring)."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.pk is None:
            return fieldsets
        if self.has_change_permission(request, obj):
            readonly = set(self.get_readonly_fields(request, obj))
        else:  # the admin shows every field read-only to someone who may only view
            readonly = set(flatten_fieldsets(fieldsets))
        hidden = {name for name in readonly if self._readonly_empty(name, obj)}
        return _fieldsets_without(fieldsets, hidden)

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if obj is None or obj.pk is None:
            return inlines
        return [inline for inline in inlines if _inline_shows(inline, request, obj)]

    def _readonly_empty(self, name: str, obj) -> bool:
        try:
            _field, _attr, value = lookup_field(name, obj, self)
        except (AttributeError, ObjectDoesNotExist):
            return False  # the admin's own rendering decides what to show for it
        return value_is_empty(value)


def _fieldsets_without(fieldsets, hidden: set[str]) -> list:
    kept = []
    for name, options in fieldsets:
        lines = []
        for line in options.get("fields", ()):
            if isinstance(line, list | tuple):
                line = tuple(field for field in line if field not in hidden)
                if line:
                    lines.append(line if len(line) > 1 else line[0])
            elif line not in hidden:
                lines.append(line)
        if lines:
            kept.append((name, {**options, "fields": lines}))
    return kept


def _inline_shows(inline, request, obj) -> bool:
    """An inline the user may add to, or one with rows for `obj`."""
    if inline.has_add_permission(request, obj):
        return True
    related_name = inline.get_formset(request, obj).fk.name
    return inline.get_queryset(request).filter(**{related_name: obj}).exists()

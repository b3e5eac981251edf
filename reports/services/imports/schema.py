"""One import line → a checked, unsaved report with its parts, or the errors that stop it.

The schema is the seed file's (reports/seed/report_1780960.json written on one line; its
`source` block is optional and not stored), described in docs/import-format.md. Fields are
checked by the models' own field definitions (`Field.clean`), so the import accepts
exactly what the admin accepts; every error names its field by path, e.g.
`key_players[2].name` or `report.cagr_percent`."""

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import slugify

from common.currency import price_fallback

from ...models import (
    Category,
    FrequentQuestion,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    Report,
    Segment,
    TocEntry,
)
from ...regions import countries_resolve

REQUIRED_REPORT_FIELDS = (
    "number",
    "title",
    "market_name",
    "summary",
    "analysis",
    "cagr_percent",
    "forecast_start_year",
    "forecast_end_year",
    "edition_date",
)
OPTIONAL_REPORT_FIELDS = (
    "slug",
    "status",
    *(name for name in Report.LONG_TEXT_FIELDS if name not in REQUIRED_REPORT_FIELDS),
    "base_year_market_size",
    "market_size_currency",
    "page_count",
    "seo_description",
    "is_demo",
)
REPORT_FIELDS = REQUIRED_REPORT_FIELDS + OPTIONAL_REPORT_FIELDS
SCALAR_SECTIONS = tuple(f"report.{name}" for name in REPORT_FIELDS if name != "number")
PART_SECTIONS = ("dynamics", "key_players", "segments", "regions", "toc", "faqs", "licences")
SECTIONS = (*SCALAR_SECTIONS, "category", *PART_SECTIONS)
TOP_LEVEL = {"source", "category", "report", *PART_SECTIONS}

# The fields a line gives for each part, and the model that checks them.
PART_FIELDS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "dynamics": (MarketDynamic, ("kind", "title", "description")),
    "key_players": (
        KeyPlayer,
        ("name", "profile", "revenue_note", "revenue_musd", "growth_percent"),
    ),
    "faqs": (FrequentQuestion, ("question", "answer")),
    "licences": (
        Licence,
        ("kind", "description", "max_users", "price", "price_eur", "price_gbp", "is_active"),
    ),
    "toc": (TocEntry, ("level", "title")),
}
SEGMENT_FIELDS = ("name", "description", "share_percent")
REGION_FIELDS = ("name", "share_percent", "commentary", "countries")
# What makes a part unique within its report (the models' unique constraints).
UNIQUE_BY = {"key_players": ("name",), "licences": ("kind",)}


class LineInvalid(Exception):
    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


@dataclass
class ReportState:
    """A report and its parts, as a line brings them or as the database holds them."""

    report: Report
    category_name: str = ""
    category_slug: str = ""
    # Parts: model instances when read from the database, `Row`s when read from a line.
    dynamics: list = field(default_factory=list)
    key_players: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    regions: list[tuple[Any, list[str]]] = field(default_factory=list)
    toc: list = field(default_factory=list)
    faqs: list = field(default_factory=list)
    licences: list = field(default_factory=list)
    # The sections the line gave (a line may leave out optional ones; those stay as they are).
    present: set[str] = field(default_factory=set)
    # Corrections made on the way in (countries), for the line's report.
    notes: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.report.number


# --- Canonical values: what "the same section" means --------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):  # Report.Status.DRAFT and "draft" are the same value
        return value.value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def section_value(state: ReportState, section: str) -> Any:
    """A JSON-able value of one section, equal for equal content whatever its source."""
    if section.startswith("report."):
        return _plain(getattr(state.report, section.removeprefix("report.")))
    if section == "category":
        return state.category_slug
    if section == "segments":
        rows = sorted(state.segments, key=lambda s: (s.dimension, s.position))
        return [[s.dimension, s.name, s.description, _plain(s.share_percent)] for s in rows]
    if section == "regions":
        return [
            [r.name, _plain(r.share_percent), r.commentary, codes] for r, codes in state.regions
        ]
    _model, names = PART_FIELDS[section]
    return [[_plain(getattr(row, name)) for name in names] for row in getattr(state, section)]


def section_hash(state: ReportState, section: str) -> str:
    # repr of str/int/None/lists is stable across runs and versions, and cheaper than JSON.
    payload = repr(section_value(state, section))
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


# --- Parsing one line ---------------------------------------------------------------------


class Row:
    """A part as a line gives it: its checked fields as attributes, which is all the quality
    check and the writer read (a model instance per part would cost more than the rest)."""

    def __init__(self, **values):
        self.__dict__.update(values)


def _number(value: Any) -> Any:
    """JSON numbers with a fraction arrive as floats; their decimal text is what was meant."""
    return Decimal(str(value)) if isinstance(value, float) else value


@functools.cache
def _checker(model: type[models.Model], name: str):
    """A function that returns the field's clean value or raises ValidationError: the model
    field's own `clean`, with a shortcut for the common case of a plain string that its
    validators (length, no NUL) and choices accept: the same rules without the call chain,
    which at a hundred fields a line is most of an import's time."""
    model_field = model._meta.get_field(name)
    simple = type(model_field) in (models.CharField, models.TextField) and all(
        type(v).__name__ in ("MaxLengthValidator", "ProhibitNullCharactersValidator")
        for v in model_field.validators
    )
    limit = model_field.max_length or 0
    choices = {str(value) for value, _label in model_field.flatchoices} or None
    integer = isinstance(model_field, models.IntegerField) and not choices
    validators = model_field.validators  # for integers: the column's range

    def check(value):
        if value == "" and model_field.null:
            return None
        if value is None and model_field.null and model_field.blank:
            return None
        if (
            simple
            and type(value) is str
            and (value or model_field.blank)
            and (not limit or len(value) <= limit)
            and "\x00" not in value
            and (choices is None or value in choices)
        ):
            return value
        if integer and type(value) is int:
            for validator in validators:
                validator(value)
            return value
        if type(value) is bool and isinstance(model_field, models.BooleanField):
            return value
        return model_field.clean(_number(value), None)

    return check


def _values(model, given: dict, names, path: str, errors: list) -> dict:
    """Every field in `names`, checked: the given value, else the model field's default."""
    cleaned = {}
    for name in names:
        value = given[name] if name in given else model._meta.get_field(name).get_default()
        try:
            cleaned[name] = _checker(model, name)(value)
        except ValidationError as exc:
            errors.extend((f"{path}.{name}", message) for message in exc.messages)
            cleaned[name] = None
    return cleaned


def _object(value: Any, path: str, allowed, errors: list) -> dict | None:
    if not isinstance(value, dict):
        errors.append((path, "expected an object"))
        return None
    unknown = sorted(set(value) - set(allowed))
    errors.extend((f"{path}.{key}", "unknown field") for key in unknown)
    return {key: value[key] for key in allowed if key in value}


def _list(value: Any, path: str, errors: list) -> list:
    if not isinstance(value, list):
        errors.append((path, "expected a list"))
        return []
    return value


def _report(data: dict, errors: list) -> Report:
    given = _object(data.get("report"), "report", REPORT_FIELDS, errors) or {}
    required = [name for name in REQUIRED_REPORT_FIELDS if given.get(name) in (None, "")]
    errors.extend((f"report.{name}", "This field is required.") for name in required)
    if not given.get("slug") and given.get("market_name"):
        given["slug"] = slugify(f"global {given['market_name']} market")[:200]
    names = [name for name in REPORT_FIELDS if name in given and name not in required]
    return Report(**_values(Report, given, names, "report", errors))


def _category(data: dict, state: ReportState, errors: list) -> None:
    values = _object(data.get("category"), "category", ("name", "slug"), errors)
    if values is None:
        return
    name = " ".join(str(values.get("name") or "").split())
    slug = str(values.get("slug") or slugify(name))
    _values(Category, {"name": name, "slug": slug}, ("name", "slug"), "category", errors)
    state.category_name, state.category_slug = name, slug


def _parts(data: dict, section: str, errors: list) -> list[Row]:
    model, names = PART_FIELDS[section]
    rows = []
    for i, raw in enumerate(_list(data[section], section, errors)):
        path = f"{section}[{i}]"
        if section == "toc" and isinstance(raw, list) and len(raw) == 2:
            raw = {"level": raw[0], "title": raw[1]}  # the seed's [level, title] pairs
        if section == "licences" and isinstance(raw, dict):
            raw = _licence_prices(raw, path, errors)
        values = _object(raw, path, names, errors)
        if values is not None:
            rows.append(Row(**_values(model, values, names, path, errors), position=i))
    _unique(section, rows, errors)
    return rows


def _licence_prices(raw: dict, path: str, errors: list) -> dict:
    """A licence's EUR and GBP prices, when the line leaves them out, come from its USD
    `price` (common.currency.price_fallback). Lines written before prices per currency may
    still say `"currency": "USD"`; any other currency there is an error, not a guess."""
    raw = dict(raw)
    legacy = raw.pop("currency", "USD")
    if str(legacy).upper() != "USD":
        errors.append(
            (f"{path}.currency", "give the price per currency: price (USD), price_eur, price_gbp")
        )
    try:
        usd = Decimal(str(raw.get("price")))
    except InvalidOperation:
        return raw  # the price's own check reports it
    for currency in ("EUR", "GBP"):
        name = Licence.PRICE_FIELDS[currency]
        if raw.get(name) in (None, "") and usd.is_finite() and usd > 0:
            raw[name] = price_fallback(usd=usd, currency=currency)
    return raw


def _unique(section: str, rows: list, errors: list) -> None:
    keys = UNIQUE_BY.get(section)
    if not keys:
        return
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        key = tuple(getattr(row, name) for name in keys)
        if key in seen:
            errors.append((f"{section}[{i}].{keys[0]}", f"repeats {section}[{seen[key]}]"))
        seen.setdefault(key, i)


def _segments(data: dict, errors: list) -> list[Row]:
    value = data["segments"]
    if not isinstance(value, dict):
        errors.append(("segments", 'expected an object: {"type": [...], "application": [...]}'))
        return []
    dimensions = Segment.Dimension.values
    errors.extend((f"segments.{key}", "unknown field") for key in value if key not in dimensions)
    rows, seen = [], {}
    for dimension in dimensions:
        for i, raw in enumerate(_list(value.get(dimension, []), f"segments.{dimension}", errors)):
            path = f"segments.{dimension}[{i}]"
            values = _object(raw, path, SEGMENT_FIELDS, errors)
            if values is None:
                continue
            cleaned = _values(Segment, values, SEGMENT_FIELDS, path, errors)
            row = Row(**cleaned, dimension=dimension, position=i)
            if (dimension, row.name) in seen:
                first = seen[dimension, row.name]
                errors.append((f"{path}.name", f"repeats segments.{dimension}[{first}]"))
            seen.setdefault((dimension, row.name), i)
            rows.append(row)
    return rows


def _regions(data: dict, state: ReportState, errors: list) -> None:
    names = set()
    for i, raw in enumerate(_list(data["regions"], "regions", errors)):
        path = f"regions[{i}]"
        values = _object(raw, path, REGION_FIELDS, errors)
        if values is None:
            continue
        countries = _list(values.pop("countries", []), f"{path}.countries", errors)
        region = Row(**_values(Region, values, REGION_FIELDS[:-1], path, errors), position=i)
        if region.name in names:
            errors.append((f"{path}.name", "repeats an earlier region"))
        names.add(region.name)
        if not all(isinstance(name, str) for name in countries):
            errors.append((f"{path}.countries", "expected a list of country names or codes"))
            countries = []
        codes, notes = countries_resolve(region.name or "", countries)
        state.regions.append((region, codes))
        state.notes.extend(notes)


def parse_line(data: Any) -> ReportState:
    """The report a line describes, checked; raises LineInvalid with every error found."""
    errors: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise LineInvalid([("line", "expected a JSON object")])
    errors.extend((key, "unknown field") for key in sorted(set(data) - TOP_LEVEL))
    state = ReportState(report=_report(data, errors))
    given = data.get("report") if isinstance(data.get("report"), dict) else {}
    state.present = {f"report.{name}" for name in given if name in REPORT_FIELDS}
    state.present |= {"report.slug"}  # made from the market name when not given
    state.present.discard("report.number")
    if "category" in data:
        _category(data, state, errors)
        state.present.add("category")
    else:
        errors.append(("category", "This field is required."))
    for section in ("dynamics", "key_players", "toc", "faqs", "licences"):
        if section in data:
            setattr(state, section, _parts(data, section, errors))
            state.present.add(section)
    if "segments" in data:
        state.segments = _segments(data, errors)
        state.present.add("segments")
    if "regions" in data:
        _regions(data, state, errors)
        state.present.add("regions")
    if errors:
        raise LineInvalid(errors)
    return state

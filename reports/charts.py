"""Charts as inline SVG, drawn on the server: they need no JavaScript, no network and no
image files, and the same markup works in the web page and in WeasyPrint's PDFs."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Geometry in SVG user units; the chart scales to its container's width. Labels sit above
# their bars so that a phone's narrow screen keeps the text readable.
WIDTH = 400
ROW_HEIGHT = 56
BAR_HEIGHT = 20
LABEL_GAP = 8
VALUE_SPACE = 56  # room right of the longest bar for its value label
# Colours as presentation attributes, so the SVG needs no stylesheet (PDFs, feeds).
# Text on white at 12.6:1 and the accent at 7.6:1 pass WCAG AA.
INK = "#1f2933"
ACCENT = "#0b5394"
TRACK = "#e6edf5"


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal


def _number(value: Decimal) -> str:
    """12.0 → "12", 13.75 → "13.8": what a reader expects to see next to a bar."""
    rounded = Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{rounded.normalize():f}"


def _bar_row(index: int, bar: Bar, *, scale_max: Decimal, unit: str) -> SafeString:
    top = index * ROW_HEIGHT
    bar_top = top + 20 + LABEL_GAP
    track = WIDTH - VALUE_SPACE
    length = 0.0 if scale_max <= 0 else float(min(bar.value / scale_max, 1)) * track
    length = max(length, 2.0)  # a zero still shows as a sliver next to its label
    return format_html(
        '<g class="chart-row">'
        '<text x="0" y="{}" font-size="17" fill="{}">{}</text>'
        '<rect x="0" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
        '<rect x="0" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
        '<text x="{}" y="{}" font-size="17" font-weight="600" fill="{}">{}{}</text>'
        "</g>",
        top + 18,
        INK,
        bar.label,
        bar_top,
        track,
        BAR_HEIGHT,
        TRACK,
        bar_top,
        f"{length:.1f}",
        BAR_HEIGHT,
        ACCENT,
        f"{length + 8:.1f}",
        bar_top + BAR_HEIGHT - 4,
        INK,
        _number(bar.value),
        unit,
    )


def bar_chart_svg(
    *,
    bars: Sequence[tuple[str, Decimal | int | float]],
    title: str,
    description: str = "",
    chart_id: str = "chart",
    unit: str = "%",
    scale_max: Decimal | int | None = None,
) -> SafeString:
    """A horizontal bar chart as an accessible `<svg role="img">`: its title and description
    are announced by screen readers and every label is HTML-escaped. `scale_max` fixes the
    value of a full-length bar (100 for shares of a whole); by default the largest bar fills
    the width. Bars with no value must be left out by the caller."""
    rows = [Bar(label=str(label), value=Decimal(str(value))) for label, value in bars]
    if not rows:
        return mark_safe("")  # noqa: S308 - a constant empty string
    top = Decimal(str(scale_max)) if scale_max is not None else max(r.value for r in rows)
    height = len(rows) * ROW_HEIGHT
    body = format_html_join(
        "", "{}", ((_bar_row(i, row, scale_max=top, unit=unit),) for i, row in enumerate(rows))
    )
    ident = escape(chart_id)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="{}-title {}-desc" preserveAspectRatio="xMinYMin meet">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        WIDTH,
        height,
        ident,
        ident,
        ident,
        title,
        ident,
        description or _describe(rows, unit),
        body,
    )


def _describe(rows: list[Bar], unit: str) -> str:
    return "; ".join(f"{row.label}: {_number(row.value)}{unit}" for row in rows) + "."

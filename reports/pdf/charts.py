"""The PDF's charts, drawn by pygal as inline SVG in one house style. No JavaScript and no
external references: WeasyPrint's fetcher would refuse them anyway.

Every chart carries its alternative text in the SVG's `<title>`: WeasyPrint's tagged PDF
(PDF/UA) takes a Figure's /Alt from there, and a screen reader reads the chart as that text.
pygal writes "Pygal" there (its `title` option would also draw the title and move the plot),
so the text is put in after rendering. It names the chart and lists every value, as the
figure shows them."""

import math
from decimal import Decimal

import pygal
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

PALETTE = ("#0f2d4a", "#1f6f8b", "#4aa3a2", "#c9a227", "#8c6d9f", "#d9822b", "#6b8f3a", "#9aa5b1")
STYLE = Style(
    font_family="Lato, DejaVu Sans, sans-serif",
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#2b2f36",
    foreground_strong="#0f2d4a",
    foreground_subtle="#c8ced6",
    colors=PALETTE,
    title_font_size=15,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=13,
    value_label_font_size=12,
    guide_stroke_color="#e3e7ec",
    major_guide_stroke_color="#e3e7ec",
    guide_stroke_dasharray="0",
    major_guide_stroke_dasharray="0",
    value_colors=("#ffffff",),  # values printed inside slices and bars
    opacity="1",
    opacity_hover="1",
)
# The forecast's area fill is a tint of the line colour; pie slices and bars stay solid.
LINE_STYLE = Style(
    **{**STYLE.to_dict(), "opacity": "0.16", "colors": ("#1f6f8b",), "value_colors": ("#0f2d4a",)}
)
OPTIONS = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "explicit_size": False,
    "show_title": False,  # the figure caption in the document carries the title
}


PYGAL_TITLE = "<title>Pygal</title>"


def _svg(chart, *, alt: str) -> SafeString:
    svg = chart.render(is_unicode=True)
    assert svg.count(PYGAL_TITLE) == 1, "pygal's placeholder title, once"
    svg = svg.replace(PYGAL_TITLE, f"<title>{escape(alt)}</title>")
    return mark_safe(svg)  # noqa: S308 - pygal output, escaped by pygal; the title escaped here


def chart_alt(kind: str, title: str, points: list[tuple[str, str]]) -> str:
    """ "Ring chart: Share of the market by region. North America 42%; Europe 28%." """
    values = "; ".join(f"{label} {value}" for label, value in points)
    return f"{kind}: {title.rstrip('.')}. {values}."


def share_chart(*, shares: list[tuple[str, Decimal]], title: str, unit: str = "%") -> SafeString:
    """A ring chart of shares (regions, segments); labels carry the value."""
    chart = pygal.Pie(
        **OPTIONS,
        width=640,
        height=330,
        inner_radius=0.55,
        print_values=True,
        legend_at_bottom=False,
        legend_box_size=14,
        truncate_legend=-1,
        formatter=lambda value: f"{value:g}{unit}",
        margin=8,
    )
    for label, value in shares:
        chart.add(label, float(value))
    points = [(label, f"{float(value):g}{unit}") for label, value in shares]
    return _svg(chart, alt=chart_alt("Ring chart", title, points))


def bar_chart(*, bars: list[tuple[str, Decimal]], title: str, unit: str = "%") -> SafeString:
    """Horizontal bars, largest first: a segment breakdown."""
    chart = pygal.HorizontalBar(
        **OPTIONS,
        width=640,
        height=max(160, 46 * len(bars) + 40),
        print_values=True,
        show_legend=False,
        formatter=lambda value: f"{value:g}{unit}",
        margin=8,
    )
    ordered = sorted(bars, key=lambda bar: bar[1])
    chart.x_labels = [label for label, _ in ordered]
    chart.add("", [float(value) for _, value in ordered])
    points = [(label, f"{float(value):g}{unit}") for label, value in reversed(ordered)]
    return _svg(chart, alt=chart_alt("Bar chart", title, points))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round axis values (1, 2, 2.5 or 5 × 10^n apart) covering low..high."""
    span = max(high - low, 1e-9)
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high + step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _padded(numbers: list[float]) -> tuple[float, float]:
    """The data range with room below and above, so printed values clear the axes."""
    low, high = min(numbers), max(numbers)
    pad = (high - low) * 0.08 or 1
    return low - pad, high + pad


def column_chart(*, labels: list[str], values: list[Decimal], label: str, title: str) -> SafeString:
    """Vertical columns, one per label (e.g. the market's increase in each forecast year)."""
    numbers = [float(value) for value in values]
    chart = pygal.Bar(
        **OPTIONS,
        width=640,
        height=250,
        show_legend=False,
        print_values=True,
        print_values_position="top",
        formatter=lambda value: f"{value:,.1f}",
        y_title=label,
        y_labels=nice_ticks(0, max(numbers) * 1.12),
        show_x_guides=False,
        margin=10,
    )
    chart.x_labels = labels
    chart.add(label, numbers)
    points = [(name, f"{number:,.1f}") for name, number in zip(labels, numbers, strict=True)]
    return _svg(chart, alt=chart_alt("Column chart", f"{title} ({label})", points))


def forecast_chart(
    *, years: list[int], values: list[Decimal], label: str, title: str
) -> SafeString:
    """The forecast curve: a line with a light fill, each year's value printed."""
    numbers = [float(value) for value in values]
    chart = pygal.Line(
        **{**OPTIONS, "style": LINE_STYLE},
        width=640,
        height=290,
        show_legend=False,
        dots_size=3.5,
        stroke_style={"width": 2.5},
        fill=True,
        y_title=label,
        print_values=True,
        print_values_position="top",
        formatter=lambda value: f"{value:,.1f}",
        y_labels=nice_ticks(*_padded(numbers)),
        show_x_guides=False,
        margin=10,
        margin_right=28,
        margin_top=18,
    )
    chart.x_labels = [str(year) for year in years]
    chart.add(label, numbers)
    points = [(str(year), f"{number:,.1f}") for year, number in zip(years, numbers, strict=True)]
    return _svg(chart, alt=chart_alt("Line chart", f"{title} ({label})", points))

"""The PDF's charts, drawn by pygal as inline SVG in one house style. No JavaScript and no
external references: WeasyPrint's fetcher would refuse them anyway."""

from decimal import Decimal

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

PALETTE = ("#0f2d4a", "#1f6f8b", "#4aa3a2", "#c9a227", "#8c6d9f", "#d9822b", "#6b8f3a", "#9aa5b1")
STYLE = Style(
    font_family="DejaVu Sans",
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
    guide_stroke_dasharray="2,3",
    major_guide_stroke_dasharray="2,3",
    opacity="1",
    opacity_hover="1",
)
OPTIONS = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "explicit_size": False,
    "show_title": False,  # the figure caption in the document carries the title
}


def _svg(chart) -> SafeString:
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308 - pygal output, escaped by pygal


def share_chart(*, shares: list[tuple[str, Decimal]], unit: str = "%") -> SafeString:
    """A ring chart of shares (regions, segments); labels carry the value."""
    chart = pygal.Pie(
        **OPTIONS,
        width=640,
        height=330,
        inner_radius=0.55,
        print_values=True,
        legend_at_bottom=False,
        legend_box_size=14,
        formatter=lambda value: f"{value:g}{unit}",
        margin=8,
    )
    for label, value in shares:
        chart.add(label, float(value))
    return _svg(chart)


def bar_chart(*, bars: list[tuple[str, Decimal]], unit: str = "%") -> SafeString:
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
    return _svg(chart)


def forecast_chart(*, years: list[int], values: list[Decimal], label: str) -> SafeString:
    """The forecast curve: one line, dots at each year, the end values printed."""
    chart = pygal.Line(
        **OPTIONS,
        width=640,
        height=300,
        show_legend=False,
        dots_size=3.5,
        stroke_style={"width": 2.5},
        fill=False,
        y_title=label,
        show_minor_x_labels=True,
        print_values=False,
        margin=8,
        include_x_axis=False,
    )
    chart.x_labels = [str(year) for year in years]
    chart.add(label, [float(value) for value in values])
    return _svg(chart)

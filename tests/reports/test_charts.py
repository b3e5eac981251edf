"""The inline-SVG bar chart helper: proportional bars, escaped labels, accessible names."""

import re
from decimal import Decimal
from xml.etree import ElementTree

from reports.charts import ACCENT, VALUE_SPACE, WIDTH, bar_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output, not untrusted XML


def bar_widths(svg: str) -> list[float]:
    root = parse(svg)
    return [
        float(rect.get("width")) for rect in root.iter(f"{SVG}rect") if rect.get("fill") == ACCENT
    ]


def test_bars_are_proportional_to_values_against_the_scale():
    svg = bar_chart_svg(
        bars=[("North America", Decimal("40")), ("Europe", 30), ("Asia-Pacific", 20.0)],
        title="Share",
        scale_max=100,
    )
    track = WIDTH - VALUE_SPACE
    assert bar_widths(svg) == [round(track * 0.4, 1), round(track * 0.3, 1), round(track * 0.2, 1)]


def test_largest_bar_fills_the_track_without_a_scale():
    svg = bar_chart_svg(bars=[("A", 5), ("B", 10)], title="Values")
    assert bar_widths(svg) == [(WIDTH - VALUE_SPACE) / 2, float(WIDTH - VALUE_SPACE)]


def test_values_are_labelled_with_their_unit():
    svg = bar_chart_svg(bars=[("Europe", Decimal("30.00")), ("Asia", Decimal("12.25"))], title="T")
    texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
    assert texts == ["Europe", "30%", "Asia", "12.3%"]


def test_svg_is_an_image_named_by_its_title_and_description():
    svg = bar_chart_svg(bars=[("Europe", 30)], title="Market share by region", chart_id="shares")
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "shares-title shares-desc"
    assert root.find(f"{SVG}title").text == "Market share by region"
    assert root.find(f"{SVG}desc").text == "Europe: 30%."


def test_labels_and_title_are_escaped():
    svg = bar_chart_svg(bars=[("<script>alert(1)</script>", 10)], title='"><img src=x>')
    assert "<script>" not in svg and "<img" not in svg
    parse(svg)  # still well-formed XML
    assert "&lt;script&gt;" in svg


def test_no_bars_gives_no_chart():
    assert bar_chart_svg(bars=[], title="Empty") == ""


def test_values_above_the_scale_do_not_overflow_the_track():
    svg = bar_chart_svg(bars=[("Over", 150)], title="T", scale_max=100)
    assert bar_widths(svg) == [float(WIDTH - VALUE_SPACE)]
    assert re.search(r"150%", svg)

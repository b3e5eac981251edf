"""The dashboard's charts, drawn on the server as SVG by pygal and embedded as data: URIs
(an <img> shows them without JavaScript, and the page's Content-Security-Policy already
allows data: images; pygal's own script is left out, `js=[]`). Each chart sits beside a
table of the same numbers, so a screen reader or a copy-paste loses nothing."""

import pygal
from pygal.style import DefaultStyle

COUNT_SERIES = (("leads", "Leads"), ("samples", "Samples"), ("enquiries", "Enquiries"))
COUNT_SERIES += (("orders", "Orders"),)


def _config(**extra) -> dict:
    return {
        "js": [],
        "style": DefaultStyle,
        "width": 640,
        "height": 320,
        "legend_at_bottom": True,
        "truncate_label": 28,
        "print_values": False,
        "disable_xml_declaration": False,
        **extra,
    }


def counts_chart(title: str, rows: list, *, over_time: bool = False) -> str:
    chart = (pygal.Line if over_time else pygal.HorizontalBar)(**_config(title=title))
    labels = [row.label for row in rows]
    if not over_time:
        rows, labels = rows[::-1], labels[::-1]  # the largest at the top
    chart.x_labels = labels
    for attr, name in COUNT_SERIES:
        chart.add(name, [getattr(row, attr) for row in rows])
    return chart.render_data_uri()


def revenue_chart(title: str, rows: list, currencies: list[str], *, over_time=False) -> str:
    """One series per currency: amounts are compared, never added across currencies."""
    chart = (pygal.Line if over_time else pygal.HorizontalBar)(**_config(title=title))
    if not over_time:
        rows = rows[::-1]
    chart.x_labels = [getattr(row, "label", None) or getattr(row, "code", "") for row in rows]
    for currency in currencies:
        chart.add(
            currency,
            [float(row.revenue[c]) if (c := currency) in row.revenue else None for row in rows],
        )
    return chart.render_data_uri()


def funnel_chart(funnel) -> str:
    chart = pygal.Bar(**_config(title="Sample → enquiry → order (contacts)"))
    chart.x_labels = [step for step, *_ in funnel.steps]
    chart.add("Contacts", [count for _, count, *_ in funnel.steps])
    return chart.render_data_uri()


def time_to_buy_chart(figures) -> str:
    chart = pygal.Bar(**_config(title="Days from first sample to first order", height=240))
    chart.x_labels = ["median", "p90"]
    chart.add("Days", [figures.median_days, figures.p90_days])
    return chart.render_data_uri()

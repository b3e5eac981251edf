"""The dashboard's charts, drawn on the server as SVG by pygal (pygal's own script left out,
`js=[]`). The page links each one as an <img> of its own URL (sales/admin.py), so the
tables answer at once and the browser fetches the charts beside them, without JavaScript.
Each chart sits beside a table of the same numbers, so a screen reader or a copy-paste
loses nothing."""

import functools
import hashlib
import re

import pygal
from django.conf import settings
from django.core.cache import cache
from pygal.style import DefaultStyle

from common.breaker import cache_call

# pygal writes its configuration as an inline <script> even with `js=[]`; the drawing needs
# none of it (an <img> runs no script anyway, and the chart's CSP forbids one).
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)


def _svg(chart) -> str:
    return SCRIPT.sub("", chart.render(is_unicode=True))


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


def _kept(render):
    """pygal takes some 50–90 ms a chart on this machine, a dozen charts most of the page's
    time: a chart is kept in the cache under a digest of everything it is drawn from, so
    the same numbers are drawn once and a changed number is a new chart (never a stale
    one). SALES_DASHBOARD_CHART_CACHE_SECONDS says how long an unused one stays."""

    @functools.wraps(render)
    def kept(*args, **kwargs):
        digest = hashlib.sha256(repr((render.__name__, args, kwargs)).encode()).hexdigest()
        key = f"sales-chart:{digest}"
        found = cache_call(lambda: cache.get(key), fallback=None, purpose="drawn again")
        if found is None:
            found = render(*args, **kwargs)
            seconds = settings.SALES_DASHBOARD_CHART_CACHE_SECONDS
            cache_call(lambda: cache.set(key, found, seconds), fallback=None, purpose="not kept")
        return found

    return kept


@_kept
def counts_chart(title: str, rows: list, *, over_time: bool = False) -> str:
    chart = (pygal.Line if over_time else pygal.HorizontalBar)(**_config(title=title))
    labels = [row.label for row in rows]
    if not over_time:
        rows, labels = rows[::-1], labels[::-1]  # the largest at the top
    chart.x_labels = labels
    for attr, name in COUNT_SERIES:
        chart.add(name, [getattr(row, attr) for row in rows])
    return _svg(chart)


@_kept
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
    return _svg(chart)


@_kept
def funnel_chart(funnel) -> str:
    chart = pygal.Bar(**_config(title="Sample → enquiry → order (contacts)"))
    chart.x_labels = [step for step, *_ in funnel.steps]
    chart.add("Contacts", [count for _, count, *_ in funnel.steps])
    return _svg(chart)


@_kept
def time_to_buy_chart(figures) -> str:
    chart = pygal.Bar(**_config(title="Days from first sample to first order", height=240))
    chart.x_labels = ["median", "p90"]
    chart.add("Days", [figures.median_days, figures.p90_days])
    return _svg(chart)

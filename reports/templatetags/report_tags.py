"""Template helpers for report pages (and the PDFs, which render the same parts)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.conf import settings
from django.utils.safestring import SafeString

from common.currency import PARAMETER, currency_for
from common.money import money_text

from ..charts import bar_chart_svg
from ..seo import jsonld_script

register = template.Library()


@register.filter
def jsonld(data) -> SafeString:
    """`{{ data|jsonld }}`: a schema.org script element, safe whatever the texts contain."""
    return jsonld_script(data)


@register.filter
def money(amount: Decimal | None, currency: str = "USD") -> str:
    """3900 → "USD 3,900"; cents are shown only when there are any."""
    return money_text(amount, currency, cents=False)


@register.filter
def price_in(licence, currency: str) -> Decimal | None:
    """`{{ licence|price_in:currency|money:currency }}`: the licence's list price there
    (None for a currency we don't sell in, e.g. an old quote's)."""
    return licence.price_in(currency) if currency in settings.CURRENCIES else None


@register.inclusion_tag("includes/currency_choice.html", takes_context=True)
def currency_choice(context) -> dict:
    """One plain link per currency we sell in, keeping the page's other parameters (the
    page answers `?currency=` by remembering the choice: common/currency.py)."""
    request = context["request"]
    kept = request.GET.copy()
    kept.pop(PARAMETER, None)
    links = []
    for code in settings.CURRENCIES:
        kept[PARAMETER] = code
        links.append((code, f"?{kept.urlencode()}"))
    return {"links": links, "current": currency_for(request)}


@register.filter
def percent(value: Decimal | None) -> str:
    """13.70 → "13.7%", 40.0 → "40%"."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP).normalize():f}%"


@register.simple_tag
def region_share_chart(regions, *, chart_id: str = "region-shares", title: str = "") -> SafeString:
    """Regional market shares as a bar chart against 100%; regions without a share are left
    out (the page lists them beside the chart)."""
    bars = [(r.name, r.share_percent) for r in regions if r.share_percent is not None]
    return bar_chart_svg(
        bars=bars,
        title=title or "Market share by region",
        chart_id=chart_id,
        unit="%",
        scale_max=100,
    )

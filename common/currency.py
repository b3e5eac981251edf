"""The visitor's currency: USD, EUR or GBP (settings.CURRENCIES), picked with a plain link
(`?currency=EUR`, no JavaScript) on the report and purchase pages.

- A visitor who has not picked one sees settings.DEFAULT_CURRENCY and is written nothing:
  no cookie, no session, so their pages stay shareable in the page cache.
- Picking one sets a long-lived `currency` cookie (a preference, not personal data) and
  redirects to the same address without the parameter, so the page itself is one the page
  cache can keep: it stores one version per currency (common/pagecache.py keys by it).
- A currency we don't sell in (`?currency=XYZ`) answers 400 with links to the ones we do,
  and changes nothing. Accept-Language is not consulted: a language says little about the
  currency a company's purchasing department pays in.
"""

from decimal import ROUND_HALF_UP, Decimal
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.cache import patch_vary_headers
from django.utils.html import escape

COOKIE_NAME = "currency"
PARAMETER = "currency"
COOKIE_MAX_AGE = 365 * 86400


def currency_supported(value: str) -> bool:
    return value in settings.CURRENCIES


def currency_chosen(request) -> str | None:
    """The currency the visitor picked (their cookie), if it is one we sell in."""
    value = request.COOKIES.get(COOKIE_NAME, "")
    return value if currency_supported(value) else None


def currency_for(request) -> str:
    return currency_chosen(request) or settings.DEFAULT_CURRENCY


def currency_choice_response(request) -> HttpResponse | None:
    """The answer to `?currency=…`, or None when the request does not pick one: a redirect
    that sets the cookie, or a 400 naming the currencies we sell in."""
    if PARAMETER not in request.GET or request.method not in ("GET", "HEAD"):
        return None
    value = request.GET.get(PARAMETER, "").strip().upper()
    kept = request.GET.copy()
    del kept[PARAMETER]
    address = f"{request.path}?{kept.urlencode()}" if kept else request.path
    if not currency_supported(value):
        return _currency_refused(value, kept)
    response = HttpResponseRedirect(address)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=COOKIE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _currency_refused(value: str, kept) -> HttpResponse:
    links = " ".join(
        f'<a href="?{escape(urlencode([*kept.lists(), (PARAMETER, code)], doseq=True))}">{code}</a>'
        for code in settings.CURRENCIES
    )
    shown = escape(value[:10]) or "(none)"
    body = (
        "<!doctype html><title>Unknown currency</title>"
        f"<p>We don't sell in {shown}. Prices are in {', '.join(settings.CURRENCIES)}: "
        f"{links}</p>"
    )
    response = HttpResponse(body, status=400)
    response["Cache-Control"] = "private, no-store"
    return response


def price_fallback(*, usd: Decimal, currency: str) -> Decimal:
    """A price in `currency` derived from the USD price at CURRENCY_FALLBACK_RATES, rounded
    to a whole ten (USD 3,900 → EUR 3,590 at 0.92): a list price a publisher would print,
    for a licence whose EUR or GBP price nobody set."""
    if currency == "USD":
        return usd
    converted = Decimal(usd) * settings.CURRENCY_FALLBACK_RATES[currency] / 10
    return max(Decimal(10), converted.quantize(Decimal(1), rounding=ROUND_HALF_UP) * 10)


def currency_choosable(view):
    """A page with the currency links: `?currency=…` is answered before the view runs.
    With the page cache, declare the parameter: `@page_cache_public(params=("currency",))`."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        response = currency_choice_response(request) or view(request, *args, **kwargs)
        patch_vary_headers(response, ("Cookie",))  # the prices depend on the currency cookie
        return response

    return inner

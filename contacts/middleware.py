"""First-touch attribution: the first landing with utm_* parameters is kept, with its page
and referrer, for leads and orders to record.

It lives in a signed cookie set only on that landing: a visit without a campaign writes
nothing and sets no cookie, so anonymous pages can be served from the page cache and no
session row is created per visitor. The cookie is signed (a visitor cannot forge a campaign)
and holds nothing personal beyond what the landing URL and referrer already said."""

from django.conf import settings
from django.core import signing
from django.utils import timezone

from common.text import control_characters_strip

from .models import UTM_FIELDS

COOKIE_NAME = "first_touch"
SIGNING_SALT = "enquiries.first_touch"
# A download or status link is a secret: it must never become a lead's "landing page".
SKIP_PREFIXES = (
    "/static/",
    "/admin/",
    "/healthz",
    "/stripe/",
    "/favicon",
    "/download/",
    "/enquiry/sample/",
)
# Browsers keep cookies up to 4 KB; the model's fields take 2,000 characters, a cookie two
# such URLs would not fit.
COOKIE_URL_CHARACTERS = 1000


def attribution_from_request(request) -> dict:
    params = {name: request.GET.get(name, "")[:200] for name in UTM_FIELDS}
    return {
        **params,
        "landing_page": request.get_full_path()[:COOKIE_URL_CHARACTERS],
        "referrer": request.META.get("HTTP_REFERER", "")[:COOKIE_URL_CHARACTERS],
        "captured_at": timezone.now().isoformat(),
    }


def first_touch_stored(request) -> dict | None:
    """The campaign landing remembered in the visitor's cookie, if it is there and intact."""
    value = request.COOKIES.get(COOKIE_NAME)
    if not value:
        return None
    max_age = settings.ATTRIBUTION_COOKIE_DAYS * 86400
    try:
        stored = signing.loads(value, salt=SIGNING_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return stored if isinstance(stored, dict) else None


class FirstTouchAttributionMiddleware:
    """Goes before the page cache, so a campaign landing on a cached page is remembered too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if self._is_first_campaign_landing(request):
            self._remember(request, response)
        return response

    @staticmethod
    def _is_first_campaign_landing(request) -> bool:
        return (
            request.method == "GET"
            and any(request.GET.get(name) for name in UTM_FIELDS)
            and not request.path.startswith(SKIP_PREFIXES)
            and first_touch_stored(request) is None  # first touch wins
        )

    @staticmethod
    def _remember(request, response) -> None:
        value = signing.dumps(attribution_from_request(request), salt=SIGNING_SALT, compress=True)
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=settings.ATTRIBUTION_COOKIE_DAYS * 86400,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


def first_touch(request) -> dict:
    """The attribution to record on a lead or order made by this request: the remembered
    campaign landing, falling back to the form page's own query string."""
    stored = first_touch_stored(request) or {}
    if not any(stored.get(n) for n in UTM_FIELDS):
        stored.update({n: request.GET.get(n, "")[:200] for n in UTM_FIELDS if request.GET.get(n)})
    # A cookie signed before query strings were cleaned may still hold control characters.
    return {
        key: control_characters_strip(str(stored.get(key) or ""))
        for key in (*UTM_FIELDS, "landing_page", "referrer")
    }

"""First-touch attribution: the first landing of a session with utm_* parameters (or the
first landing at all) is kept, with its page and referrer, for leads and orders to record."""

from django.utils import timezone

from .models import UTM_FIELDS

SESSION_KEY = "first_touch"
SKIP_PREFIXES = ("/static/", "/admin/", "/healthz", "/stripe/", "/favicon")


def attribution_from_request(request) -> dict:
    params = {name: request.GET.get(name, "")[:200] for name in UTM_FIELDS}
    return {
        **params,
        "landing_page": request.get_full_path()[:2000],
        "referrer": request.META.get("HTTP_REFERER", "")[:2000],
        "captured_at": timezone.now().isoformat(),
    }


class FirstTouchAttributionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "GET" and not request.path.startswith(SKIP_PREFIXES):
            self.remember_first_touch(request)
        return self.get_response(request)

    @staticmethod
    def remember_first_touch(request):
        stored = request.session.get(SESSION_KEY)
        has_utm = any(request.GET.get(name) for name in UTM_FIELDS)
        # A campaign landing replaces an earlier touch that had no campaign at all.
        if stored is None or (has_utm and not any(stored.get(n) for n in UTM_FIELDS)):
            request.session[SESSION_KEY] = attribution_from_request(request)


def first_touch(request) -> dict:
    """The attribution to record on a lead or order made by this request: the session's first
    touch, falling back to the form page's own query string."""
    stored = dict(request.session.get(SESSION_KEY) or {})
    if not any(stored.get(n) for n in UTM_FIELDS):
        stored.update({n: request.GET.get(n, "")[:200] for n in UTM_FIELDS if request.GET.get(n)})
    return {key: stored.get(key, "") for key in (*UTM_FIELDS, "landing_page", "referrer")}

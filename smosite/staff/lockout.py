"""How django-axes tells clients and usernames apart for the admin sign-in lockout."""

from django.conf import settings

from common.net import client_rate_limit_key
from common.text import control_characters_strip


def client_address(request) -> str:
    """The address failures are counted against: the client behind TRUSTED_PROXY_COUNT
    proxies, an IPv6 client by its /64 (it holds the whole network). "0.0.0.0" when the
    address is unusable, so garbage shares one counter."""
    key = client_rate_limit_key(request)
    return "0.0.0.0" if key == "unknown" else key  # noqa: S104 - a counter key, not a bind


def username(request, credentials) -> str:
    """The username as typed, without control characters (a NUL would reach PostgreSQL)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    value = (credentials or {}).get(field) or request.POST.get(field) or ""
    return control_characters_strip(str(value))[:150]

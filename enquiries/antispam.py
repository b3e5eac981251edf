"""Spam and abuse protection shared by every public form: a honeypot field, a minimum time to
fill the form (a signed timestamp), and fixed-window rate limits in the shared cache. A
rejected post stores nothing and queues nothing."""

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.shortcuts import render

SIGNER_SALT = "enquiries.form-started"


class SpamProtectedForm(forms.Form):
    """Mix into a lead form. Render `website` hidden (the `.hp-field` class hides it) and
    keep `form_started` as the form's initial value."""

    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    form_started = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["form_started"] = signing.TimestampSigner(salt=SIGNER_SALT).sign("form")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("website"):
            raise forms.ValidationError(
                "Your request could not be accepted. Please try again.", code="spam"
            )
        self._check_fill_time(cleaned.get("form_started") or "")
        return cleaned

    @staticmethod
    def _check_fill_time(token: str):
        signer = signing.TimestampSigner(salt=SIGNER_SALT)
        try:
            signer.unsign(token, max_age=settings.FORM_MAX_AGE_SECONDS)
        except signing.SignatureExpired:
            raise forms.ValidationError(
                "This form was open too long. Please check your details and send it again.",
                code="expired",
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                "Your request could not be accepted. Please try again.", code="spam"
            ) from None
        try:
            signer.unsign(token, max_age=settings.FORM_MIN_FILL_SECONDS)
        except signing.SignatureExpired:
            return  # older than the minimum: a person had time to read and type
        raise forms.ValidationError(
            "That was very fast. Please check your details and send the form again.",
            code="too_fast",
        )


def rate_limit_exceeded(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit for (scope, key) in a fixed window; True once the count exceeds `limit`.
    cache.add + incr are atomic on Redis, so concurrent web processes share one count."""
    cache_key = f"ratelimit:{scope}:{key}"
    if cache.add(cache_key, 1, timeout=window_seconds):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window_seconds)
        return limit < 1


def rate_limited_response(request, *, retry_after: int):
    response = render(
        request, "429.html", {"retry_after_minutes": max(1, retry_after // 60)}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


def client_ip(request) -> str:
    """The client's address. Behind a proxy, set TRUSTED_PROXY_COUNT so the right hop of
    X-Forwarded-For is used (a client can forge the left-most entries)."""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def ip_truncate(ip: str) -> str:
    """Keep a lead's network, not the person: IPv4 /24, IPv6 /48."""
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)

"""Fixed-window rate limits in the shared cache, and the friendly 429 page.

If the cache is unreachable the limit lets the request through (and logs it): losing a real
lead or order in an outage costs more than a burst of spam. The cache is asked through its
breaker (common/breaker.py), shared with the page and search caches: after a failure it is
not asked again for CACHE_BREAKER_SECONDS, so a hung cache costs one timeout, not one per
request."""

from django.core.cache import cache
from django.shortcuts import render

from .breaker import cache_breaker, cache_call

__all__ = ["cache_breaker", "rate_limit_exceeded", "rate_limited_response"]


def rate_limit_exceeded(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit for (scope, key) in a fixed window; True once the count exceeds `limit`.
    cache.add + incr are atomic on Redis, so concurrent web processes share one count."""
    return cache_call(
        lambda: _count(f"ratelimit:{scope}:{key}", limit=limit, window_seconds=window_seconds),
        fallback=False,
        purpose=f"{scope} let through without a rate limit",
    )


def _count(cache_key: str, *, limit: int, window_seconds: int) -> bool:
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

"""Fixed-window rate limits in the shared cache, and the friendly 429 page."""

from django.core.cache import cache
from django.shortcuts import render


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

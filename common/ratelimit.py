"""Fixed-window rate limits in the shared cache, and the friendly 429 page.

If the cache is unreachable the limit lets the request through (and logs it): losing a real
lead or order in an outage costs more than a burst of spam. After a failure the cache is not
asked again for CACHE_TIMEOUT_SECONDS × 10, so a hung cache costs one timeout, not one per
request."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

from .breaker import Breaker

logger = logging.getLogger(__name__)
cache_breaker = Breaker()


def rate_limit_exceeded(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit for (scope, key) in a fixed window; True once the count exceeds `limit`.
    cache.add + incr are atomic on Redis, so concurrent web processes share one count."""
    if cache_breaker.is_open:
        return False
    try:
        return _count(f"ratelimit:{scope}:{key}", limit=limit, window_seconds=window_seconds)
    except Exception as exc:  # noqa: BLE001 - any cache error: fail open, see above
        cache_breaker.trip(seconds=settings.CACHE_TIMEOUT_SECONDS * 10)
        logger.warning(
            "rate-limit cache unavailable (%s); %s let through", type(exc).__name__, scope
        )
        return False


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

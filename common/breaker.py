"""Circuit breakers for services a request must never wait on twice: after a failure the
service is not asked for a cool-down, so an outage costs one timeout per process and period,
not one per request.

- **Closed**: calls go ahead.
- **Open** (after a failure, for the cool-down): calls are skipped and the caller does without
  the service at once (the page is rendered, the rate limit lets the post through, the search
  is computed).
- **Trial**: the first call after the cool-down goes ahead while the breaker stays open for
  every other caller; its success closes the breaker, its failure opens it for another
  cool-down. However many requests or threads arrive, a service that hangs is waited on once
  per cool-down.

`cache_call` is the shared cache's breaker (django's default cache: Redis in production),
used by the rate limits (common/ratelimit.py), the page cache (common/pagecache.py), the
recompute locks (common/recompute.py) and the catalogue's search cache (reports/search/). A
cache that accepts connections and never answers costs one CACHE_TIMEOUT_SECONDS per web
process every CACHE_BREAKER_SECONDS."""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)


class Breaker:
    def __init__(self):
        self.lock = threading.Lock()
        self.open_until = 0.0  # monotonic time; 0: closed
        self.trips = 0  # failures seen (each opened the breaker)

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def allow(self, *, seconds: float) -> bool:
        """Whether a call may go ahead now. The first caller after the cool-down is the trial:
        the breaker stays open for `seconds` more for the others until its outcome is known."""
        if not self.open_until:
            return True
        with self.lock:
            now = time.monotonic()
            if not self.open_until:
                return True
            if now < self.open_until:
                return False
            self.open_until = now + seconds
            return True

    def succeeded(self) -> None:
        if self.open_until:
            with self.lock:
                self.open_until = 0.0

    def trip(self, *, seconds: float) -> None:
        with self.lock:
            self.open_until = time.monotonic() + seconds
            self.trips += 1

    def reset(self) -> None:
        with self.lock:
            self.open_until = 0.0


cache_breaker = Breaker()


def cache_call[T](call: Callable[[], T], *, fallback: T, purpose: str, always: bool = False) -> T:
    """`call()` on the shared cache through its breaker: `fallback` when the breaker is open
    or the call fails (any error: a cache backend raises its own). `purpose` says what the
    caller does without the cache, for the log. `always`: attempted even while the breaker is
    open — a write other processes depend on (a generation bump: pages elsewhere would stay
    stale), never a read a visitor waits on."""
    seconds = settings.CACHE_BREAKER_SECONDS
    if not always and not cache_breaker.allow(seconds=seconds):
        return fallback
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - any cache backend's error: do without it
        cache_breaker.trip(seconds=seconds)
        logger.warning(
            "cache unavailable (%s): %s; not asked again for %g s",
            type(exc).__name__,
            purpose,
            seconds,
        )
        return fallback
    cache_breaker.succeeded()
    return result

"""One request recomputes, the others do not: after a catalogue write every cached page and
search is stale at once, and without this every request that arrives before the first
recomputation is stored would recompute the same thing (a popular search's counts over the
whole catalogue, sixteen times over on two cores).

`recomputing(key, seconds)` is a lock in the shared cache (`cache.add`: Redis `SET NX` with
an expiry; with the local-memory cache of `make run`, a lock per process), asked through the
cache's breaker (common/breaker.py: while the cache is out, everyone recomputes): the
caller that gets it recomputes; the others serve what they had (the previous version of a
page, the previous figures of a search) or wait for the new one. The lock expires after
`seconds`, so a holder that dies or takes longer than that stops holding the others back;
the holder releases it when done, unless its time is up (the lock may be another's by then).
Used by the page cache (common/pagecache.py) and the catalogue's search (reports/search/).

A response built from previous figures must not be kept as the current version of its
page: `previous_served()` marks the request, and the page cache does not store it."""

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

from .breaker import cache_call

_previous = contextvars.ContextVar("recompute_previous_served", default=False)


@contextmanager
def recomputing(key: str, seconds: int) -> Iterator[bool | None]:
    """True: this caller recomputes `key` (it holds the lock for the block). False: another
    caller is recomputing it. None: the cache is unreachable, nobody can tell (recompute)."""
    lock = f"{key}:recomputing"
    seconds = max(1, seconds)
    started = time.monotonic()
    locked = cache_call(
        lambda: cache.add(lock, 1, seconds), fallback=None, purpose="recomputing without a lock"
    )
    try:
        yield locked
    finally:
        if locked and time.monotonic() - started < seconds:
            cache_call(
                lambda: cache.delete(lock), fallback=None, purpose="the lock expires on its own"
            )


def is_recomputing(key: str) -> bool:
    """Whether some caller holds `key`'s lock (False when the cache is unreachable)."""
    return cache_call(
        lambda: cache.get(f"{key}:recomputing") is not None,
        fallback=False,
        purpose="nobody known to be recomputing",
    )


def previous_served() -> None:
    """This request was answered (in part) with a previous version of something."""
    _previous.set(True)


def previous_was_served() -> bool:
    return _previous.get()


def request_started() -> None:
    """A new request: nothing previous served yet (the page cache calls it first thing)."""
    _previous.set(False)

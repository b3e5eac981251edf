"""The dashboard's computed figures, kept in the shared cache for
SALES_DASHBOARD_CACHE_SECONDS under the date range and a *generation* of the rows they count.

Why: at 100,000 contacts the figures are some 70,000 rows grouped five ways with distinct
contacts per group (COUNT(DISTINCT) sorts), 0.2–0.3 s of PostgreSQL on the shared 2-core
bench machine under load (0.7–1 s before the grouping lost its join to contacts); a per-day
rollup cannot help, since leads are distinct contacts over the whole range and do not add up
across days. The same range asked again is answered from the cache in some 20 ms.

Never stale by more than a moment after a new row: every save of a sample request, an
enquiry, an order or a contact (sales/receivers.py) bumps the generation, at once and
again after its transaction commits (a request that read the rows before the commit
stored its figures under the first bump, which the second retires, as common/pagecache.py
does). What bypasses the signals (a queryset update(), a delete, raw SQL) shows after at
most SALES_DASHBOARD_CACHE_SECONDS; 0 turns the cache off."""

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from common.breaker import cache_call

GENERATION_KEY = "sales-dashboard:generation"


def _generation() -> int:
    """The current generation; a missing key (evicted, flushed) starts a new one from the
    clock, so figures stored under an earlier generation are never taken for current."""
    found = cache.get(GENERATION_KEY)
    if found is None:
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        found = cache.get(GENERATION_KEY)
    return found


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no key yet: a new one from the clock is newer than any before
        cache.set(GENERATION_KEY, time.time_ns(), timeout=None)


def figures_changed() -> None:
    """A row the figures count was saved: figures stored so far are not served again. Not
    attempted while the cache's breaker is open (a hanging cache must not slow every saved
    sample or order); figures kept before the outage then last SALES_DASHBOARD_CACHE_SECONDS
    at most."""
    cache_call(_bump, fallback=None, purpose="figures not retired")
    transaction.on_commit(lambda: cache_call(_bump, fallback=None, purpose="figures not retired"))


def kept_figures[T](name: str, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for the same `name` (the range) in this generation."""
    seconds = settings.SALES_DASHBOARD_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    generation = cache_call(_generation, fallback=None, purpose="figures computed")
    if generation is None:
        return compute()
    key = f"sales-dashboard:{generation}:{name}"
    found = cache_call(lambda: cache.get(key), fallback=None, purpose="figures computed")
    if found is None:
        found = compute()
        cache_call(lambda: cache.set(key, found, seconds), fallback=None, purpose="not kept")
    return found

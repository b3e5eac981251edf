"""The one place Stripe is called. Every call honours STRIPE_API_BASE (tests point it at a
Stripe-compatible server on loopback). Each request waits at most STRIPE_TIMEOUT_SECONDS, and
everything inside one `stripe_deadline()` block — every call, every retry — finishes within
STRIPE_DEADLINE_SECONDS in all: a press of Pay (promotion code, session look-ups, create) is
one such block, so a slow or hanging Stripe never holds a web worker past its own timeout,
however many calls the press makes. A call made outside any block is a block of its own.

Services receive plain dicts (`stripe_dict`), never StripeObjects, so a webhook payload
stored as JSON and a freshly retrieved session go through the same code."""

import functools
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from urllib.parse import urlsplit

import stripe
from django.conf import settings

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)


class StripeNotConfigured(Exception):
    """No STRIPE_SECRET_KEY: online payment is switched off."""


class StripeUnavailable(Exception):
    """Stripe could not be reached or answered with an error; `definitive` is True when
    Stripe answered (so an idempotency key's stored result is that error)."""

    def __init__(self, message: str, *, definitive: bool, code: str = ""):
        super().__init__(message)
        self.definitive = definitive
        self.code = code  # Stripe's error code, e.g. "tax_id_invalid"


# The monotonic time by which the current block's Stripe calls must be done, if any.
_deadline: ContextVar[float | None] = ContextVar("stripe_deadline", default=None)
# A request is not started with less time than this left: it could not get an answer.
MIN_REQUEST_SECONDS = 0.2


@contextmanager
def stripe_deadline(seconds: float | None = None) -> Iterator[None]:
    """Every Stripe call inside shares one deadline: `seconds` from now (by default
    STRIPE_DEADLINE_SECONDS), or the enclosing block's, whichever comes first."""
    seconds = settings.STRIPE_DEADLINE_SECONDS if seconds is None else seconds
    outer = _deadline.get()
    mine = time.monotonic() + seconds
    token = _deadline.set(mine if outer is None else min(outer, mine))
    try:
        yield
    finally:
        _deadline.reset(token)


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_checkout_origin() -> str:
    """Where Checkout pages are served: Stripe's, or the Stripe-compatible server's."""
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://checkout.stripe.com"


def stripe_client(*, timeout: float | None = None) -> stripe.StripeClient:
    """A client whose requests wait at most `timeout` seconds (STRIPE_TIMEOUT_SECONDS by
    default). It never retries by itself: `stripe_call` does, within the deadline."""
    if not stripe_enabled():
        raise StripeNotConfigured("STRIPE_SECRET_KEY is not set.")
    # Rounded down to 0.1 s (clients are cached per timeout), never past the deadline.
    timeout = math.floor(
        min(timeout or settings.STRIPE_TIMEOUT_SECONDS, settings.STRIPE_TIMEOUT_SECONDS) * 10
    )
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, max(timeout, 1) / 10)


@functools.lru_cache(maxsize=16)
def _client(key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def stripe_call(request: Callable[[stripe.StripeClient], object]) -> dict:
    """Run `request(client)` and return its result as a dict, or raise StripeUnavailable.

    Network errors, 409s and 5xx answers Stripe says may be retried are tried again, up to
    STRIPE_MAX_NETWORK_RETRIES times with the same idempotency key (it is in the request's
    options), each attempt waiting only for what is left of the deadline (`stripe_deadline`).
    When too little is left, no request is sent at all.
    https://docs.stripe.com/error-low-level#idempotency"""
    with stripe_deadline():
        return _call_until(request, deadline=_deadline.get())


def _call_until(request: Callable[[stripe.StripeClient], object], *, deadline: float) -> dict:
    retries = 0
    while True:
        left = deadline - time.monotonic()
        if left < MIN_REQUEST_SECONDS:
            raise StripeUnavailable(
                "Stripe is too slow: no time left to ask it (STRIPE_DEADLINE_SECONDS)",
                definitive=False,
            )
        try:
            return stripe_dict(request(stripe_client(timeout=left)))
        except stripe.StripeError as exc:
            pause = min(0.5 * 2**retries, 2.0)
            retries += 1
            out_of_time = deadline - time.monotonic() < pause + 0.5
            if retries > settings.STRIPE_MAX_NETWORK_RETRIES or out_of_time or not _retryable(exc):
                raise _unavailable(exc) from exc
        time.sleep(pause)


def _unavailable(exc: stripe.StripeError) -> "StripeUnavailable":
    if isinstance(exc, stripe.APIConnectionError):
        return StripeUnavailable(f"Stripe unreachable: {exc.user_message or exc}", definitive=False)
    return StripeUnavailable(
        f"Stripe error {exc.http_status}: {exc.user_message or exc}",
        definitive=exc.http_status is not None,
        code=exc.code or "",
    )


def _retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError):
        return True
    should = (exc.headers or {}).get("stripe-should-retry")
    if should is not None:
        return should == "true"
    return exc.http_status == 409 or (exc.http_status or 0) >= 500


def stripe_dict(obj) -> dict:
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)


def amount_to_minor(amount: Decimal, currency: str) -> int:
    """Stripe amounts are integers in the currency's smallest unit (cents; yen as is)."""
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return int(amount)
    return int((amount * 100).to_integral_value())


def amount_from_minor(value: int | None, currency: str) -> Decimal | None:
    if value is None:
        return None
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(value)
    return (Decimal(value) / 100).quantize(Decimal("0.01"))

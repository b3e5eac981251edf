"""The one place the Stripe client is built. Every call honours STRIPE_API_BASE (tests point
it at a Stripe-compatible server on loopback), a timeout and automatic network retries.

Services receive plain dicts (`stripe_dict`), never StripeObjects, so a webhook payload
stored as JSON and a freshly retrieved session go through the same code."""

from decimal import Decimal

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

    def __init__(self, message: str, *, definitive: bool):
        super().__init__(message)
        self.definitive = definitive


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    if not stripe_enabled():
        raise StripeNotConfigured("STRIPE_SECRET_KEY is not set.")
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base_addresses,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def stripe_call(function, *args, **kwargs) -> dict:
    """Run one client call; return its result as a dict, or raise StripeUnavailable."""
    try:
        result = function(*args, **kwargs)
    except stripe.APIConnectionError as exc:
        message = f"Stripe unreachable: {exc.user_message or exc}"
        raise StripeUnavailable(message, definitive=False) from exc
    except stripe.StripeError as exc:
        message = f"Stripe error {exc.http_status}: {exc.user_message or exc}"
        raise StripeUnavailable(message, definitive=exc.http_status is not None) from exc
    return stripe_dict(result)


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

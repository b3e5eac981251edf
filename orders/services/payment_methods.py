"""How a buyer paid, as Stripe reports it, in words for the receipt, the order page and admin.

A Checkout Session does not say which method paid it (its `payment_method_types` are the ones
offered); its PaymentIntent's `payment_method` does: a PaymentMethod whose `type` names the
method and whose same-named hash holds the details (`card.brand`, `sepa_debit.last4`, …).
https://docs.stripe.com/api/payment_methods/object"""

import logging
from dataclasses import dataclass

from .stripe_client import StripeUnavailable, stripe_call

logger = logging.getLogger(__name__)

# Names Stripe's own pages use; any other type is shown as Stripe spells it, made readable.
NAMES = {
    "card": "Card payment",
    "sepa_debit": "SEPA Direct Debit",
    "bacs_debit": "Bacs Direct Debit",
    "us_bank_account": "ACH Direct Debit",
    "acss_debit": "Pre-authorized debit",
    "au_becs_debit": "BECS Direct Debit",
    "customer_balance": "Bank transfer",
    "link": "Link",
    "paypal": "PayPal",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "klarna": "Klarna",
    "amazon_pay": "Amazon Pay",
}
BANK_ACCOUNTS = ("sepa_debit", "bacs_debit", "us_bank_account", "acss_debit", "au_becs_debit")


@dataclass(frozen=True)
class PaymentMethodSeen:
    type: str = ""  # Stripe's PaymentMethod type; "" when Stripe did not say
    description: str = ""  # "Card payment (Visa ending 4242)"; "" when unknown


def payment_method_describe(method: dict) -> str:
    """A PaymentMethod (or a Charge's payment_method_details: same shape) in words."""
    kind = method.get("type") or ""
    name = NAMES.get(kind) or kind.replace("_", " ").capitalize()
    details = method.get(kind) or {}
    if kind == "card":
        brand = (details.get("display_brand") or details.get("brand") or "").replace("_", " ")
        wallet = ((details.get("wallet") or {}).get("type") or "").replace("_", " ")
        parts = [f"{brand.title()} ending {details['last4']}" if details.get("last4") else ""]
        parts.append(wallet.title())
        extra = ", ".join(part for part in parts if part)
        return f"{name} ({extra})" if extra else name
    if kind in BANK_ACCOUNTS and details.get("last4"):
        bank = f"{details['bank_name']} " if details.get("bank_name") else ""
        return f"{name} ({bank}account ending {details['last4']})"
    return name


def payment_method_read(*, session: dict) -> PaymentMethodSeen:
    """What paid this session: its PaymentIntent's payment method, asked of Stripe (the
    PaymentIntent expanded in the session is used as is). If Stripe cannot say, and the
    session offered a single method, that one; otherwise unknown — a confirmed payment is
    never held up for the receipt's wording."""
    intent = session.get("payment_intent")
    try:
        if isinstance(intent, str):
            intent = stripe_call(
                lambda client: client.v1.payment_intents.retrieve(
                    intent, {"expand": ["payment_method"]}
                )
            )
    except StripeUnavailable as exc:
        logger.warning("payment method of session %s unknown: %s", session.get("id"), exc)
        intent = None
    method = (intent or {}).get("payment_method")
    if isinstance(method, dict) and method.get("type"):
        return _seen(method)
    offered = session.get("payment_method_types") or []
    return _seen({"type": offered[0]}) if len(offered) == 1 else PaymentMethodSeen()


def _seen(method: dict) -> PaymentMethodSeen:
    return PaymentMethodSeen(
        type=method["type"][:40], description=payment_method_describe(method)[:200]
    )

"""Starting a purchase: our pending order first (reference, price snapshot, attribution,
contact), then a Stripe Checkout Session that points back at it.

Why this order of steps: if Stripe is slow or down, the buyer's intent is already recorded
and the retry reuses the same order and idempotency key, so nothing is created twice.
https://docs.stripe.com/api/idempotent_requests"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from common.money import money_text
from contacts.services.contacts import contact_upsert
from contacts.services.marketing import Source, marketing_consent_from_form
from pages.models import PageVersion
from pages.selectors import page_current
from reports.models import Licence, Report

from ..models import Order, OrderEvent, OrderReferenceCounter
from .recovery import checkout_recovery_params
from .stripe_client import StripeUnavailable, amount_to_minor, stripe_call
from .timeline import order_event_add


class QuoteMismatch(Exception):
    """The quote is for another report, or its licence is no longer on sale."""


@dataclass(frozen=True)
class PurchaseTerms:
    """What the buyer is offered: a licence at a price. A quote fixes price and email."""

    licence: Licence
    price: Decimal
    currency: str
    price_source: str = Order.PriceSource.LIST
    quote_email: str = ""


def purchase_terms_for_quote(*, report: Report, quote: dict) -> PurchaseTerms:
    """The terms of a verified quote (see orders.quotes.quote_token_read)."""
    if quote["report_number"] != report.number:
        raise QuoteMismatch("This quote is not for this report. Ask us for a new one.")
    licence = report.licences.filter(kind=quote["licence_kind"], is_active=True).first()
    if licence is None:
        raise QuoteMismatch("The licence in this quote is no longer sold. Ask us for a new one.")
    return PurchaseTerms(
        licence=licence,
        price=quote["price"],
        currency=quote["currency"],
        price_source=Order.PriceSource.QUOTE,
        quote_email=quote["email"],
    )


def purchase_terms_list(*, licence: Licence, currency: str = "") -> PurchaseTerms:
    """The list price in the currency the buyer chose (one of settings.CURRENCIES; none:
    DEFAULT_CURRENCY)."""
    currency = currency or settings.DEFAULT_CURRENCY
    return PurchaseTerms(licence=licence, price=licence.price_in(currency), currency=currency)


def order_reference_next() -> str:
    """SMO-<year>-<6 digits>. Call inside the order's transaction: the UPDATE locks the
    year's counter row until commit, so concurrent orders get consecutive numbers and a
    rolled-back order gives its number back. Order.reference is unique as a backstop."""
    year = timezone.localdate().year
    try:
        with transaction.atomic():
            OrderReferenceCounter.objects.get_or_create(year=year)
    except IntegrityError:  # another order created this year's row first
        pass
    OrderReferenceCounter.objects.filter(year=year).update(last_value=F("last_value") + 1)
    value = OrderReferenceCounter.objects.get(year=year).last_value
    return f"{settings.ORDER_REFERENCE_PREFIX}-{year}-{value:06d}"


@transaction.atomic
def order_create(
    *,
    report: Report,
    terms: PurchaseTerms,
    buyer_email: str,
    buyer_name: str,
    buyer_company: str,
    buyer_vat_id: str = "",
    promotion_code: str = "",
    stripe_promotion_code_id: str = "",
    attribution: dict | None = None,
    payment_route: str = Order.PaymentRoute.CHECKOUT,
    marketing: bool = False,
) -> Order:
    """`marketing`: the form's (optional) marketing box was ticked: recorded in the buyer's
    consent history (contacts/services/marketing.py)."""
    contact = contact_upsert(email=buyer_email, name=buyer_name, company=buyer_company)
    marketing_consent_from_form(contact=contact, ticked=marketing, source=Source.PURCHASE_FORM)
    order = Order(
        reference=order_reference_next(),
        report=report,
        licence=terms.licence,
        licence_kind=terms.licence.kind,
        licence_name=terms.licence.get_kind_display(),
        price=terms.price,
        currency=terms.currency.upper(),
        price_source=terms.price_source,
        promotion_code=promotion_code,
        stripe_promotion_code_id=stripe_promotion_code_id,
        buyer_email=buyer_email.strip().lower(),
        buyer_name=buyer_name,
        buyer_company=buyer_company,
        buyer_vat_id=buyer_vat_id,
        contact=contact,
        payment_route=payment_route,
        # The terms the purchase page showed and the buyer ticked: the current version.
        terms_version=page_current(page=PageVersion.Page.TERMS),
        **(attribution or {}),
    )
    order.full_clean()
    order.save()
    order_event_add(
        order=order,
        kind=OrderEvent.Kind.CREATED,
        message=f"{order.licence_name} licence at {money_text(order.price, order.currency)} "
        f"({order.get_price_source_display().lower()})",
    )
    return order


REUSE_FIELDS = (
    "report_id",
    "licence_kind",
    "price",
    "currency",
    "buyer_email",
    "buyer_name",
    "buyer_company",
    "buyer_vat_id",
    "promotion_code",
    "payment_route",
)


def order_reusable(*, order: Order, values: dict) -> bool:
    """True when a Pay click describes the same purchase as this pending order, so a retry
    (after a Stripe error, or back from Checkout) continues it instead of starting another."""
    return order.status == Order.Status.PENDING and all(
        getattr(order, name) == values.get(name) for name in REUSE_FIELDS
    )


def promotion_code_find(*, code: str, currency: str) -> str | None:
    """The id of an active Stripe promotion code typed on our page that can discount a
    payment in `currency`, or None. A percentage applies in any currency; a fixed amount only
    in its coupon's currency or one of its `currency_options` (Stripe refuses the session
    otherwise). https://docs.stripe.com/api/promotion_codes/list"""
    found = stripe_call(
        lambda client: client.v1.promotion_codes.list({"code": code, "active": True, "limit": 1})
    )
    data = found.get("data") or []
    if not data or not _coupon_applies(data[0].get("coupon") or {}, currency):
        return None
    return data[0]["id"]


def _coupon_applies(coupon: dict, currency: str) -> bool:
    """https://docs.stripe.com/api/coupons/object#coupon_object-currency_options"""
    if not coupon.get("amount_off"):
        return True
    currency = currency.lower()
    options = coupon.get("currency_options") or {}
    return (coupon.get("currency") or "").lower() == currency or currency in options


def checkout_session_params(*, order: Order) -> dict:
    """https://docs.stripe.com/api/checkout/sessions/create"""
    complete = reverse("orders:purchase-complete", kwargs={"reference": order.reference})
    purchase = reverse("orders:purchase", kwargs={"number": order.report.number})
    metadata = {
        "order_reference": order.reference,
        "report_number": str(order.report.number),
        "licence": order.licence_kind,
    }
    params = {
        "mode": "payment",
        "client_reference_id": order.reference,
        "customer_email": order.buyer_email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": amount_to_minor(order.price, order.currency),
                    "product_data": {
                        "name": f"{order.report.title} — {order.licence_name} licence",
                        "description": order.licence.description[:300],
                        "metadata": metadata,
                    },
                },
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {
            "description": f"Order {order.reference}",
            "metadata": metadata,
        },
        # {CHECKOUT_SESSION_ID} is filled in by Stripe; it must stay unescaped.
        "success_url": f"{settings.SITE_URL}{complete}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{settings.SITE_URL}{purchase}?licence={order.licence_kind}"
        f"&cancelled={order.reference}",
    }
    if order.stripe_promotion_code_id:
        params["discounts"] = [{"promotion_code": order.stripe_promotion_code_id}]
    elif order.price_source == Order.PriceSource.LIST:
        params["allow_promotion_codes"] = True  # a quoted price is final
    params |= checkout_recovery_params(
        allow_promotion_codes=bool(params.get("allow_promotion_codes"))
    )
    return {**params, **checkout_billing_params(order=order, metadata=metadata)}


def checkout_billing_params(*, order: Order, metadata: dict) -> dict:
    """What a company's purchasing department needs: the billing address and their VAT ID
    collected by Checkout (saved on a Customer, so the invoice carries it), tax computed by
    Stripe Tax when STRIPE_AUTOMATIC_TAX is on, and a Stripe invoice — numbered by Stripe,
    its PDF hosted by Stripe — for every paid session.
    https://docs.stripe.com/tax/checkout/tax-ids, https://docs.stripe.com/payments/checkout/receipts"""
    params = {
        "billing_address_collection": "required",
        "tax_id_collection": {"enabled": True},
        "customer_creation": "always",
        "invoice_creation": {
            "enabled": True,
            "invoice_data": {
                "description": f"Order {order.reference}",
                "metadata": metadata,
                "custom_fields": [{"name": "Order", "value": order.reference}],
            },
        },
    }
    if settings.STRIPE_AUTOMATIC_TAX:
        params["automatic_tax"] = {"enabled": True}
    return params


def checkout_session_start(*, order: Order) -> dict:
    """Create the order's Checkout Session and return it. The idempotency key is derived
    from the order: a retry after a timeout gets back the session Stripe may already have
    made. After an error answer Stripe replays that error for the key, so the attempt
    number in the key moves on (see Order.checkout_attempts)."""
    key = f"{order.reference}-checkout-{order.checkout_attempts}"
    params = checkout_session_params(order=order)
    try:
        session = stripe_call(
            lambda client: client.v1.checkout.sessions.create(params, {"idempotency_key": key})
        )
    except StripeUnavailable as exc:
        _checkout_error_record(order=order, error=exc)
        raise
    _checkout_started_record(order=order, session=session)
    return session


@transaction.atomic
def _checkout_error_record(*, order: Order, error: StripeUnavailable) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if error.definitive:
        locked.checkout_attempts += 1
        locked.save(update_fields=["checkout_attempts", "updated_at"])
    order_event_add(order=locked, kind=OrderEvent.Kind.CHECKOUT_ERROR, message=str(error))
    order.checkout_attempts = locked.checkout_attempts


@transaction.atomic
def _checkout_started_record(*, order: Order, session: dict) -> None:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.stripe_session_id == session["id"]:
        return  # an idempotent replay of a session we already recorded
    locked.stripe_session_id = session["id"]
    locked.stripe_session_url = session.get("url") or ""
    locked.save(update_fields=["stripe_session_id", "stripe_session_url", "updated_at"])
    order_event_add(
        order=locked, kind=OrderEvent.Kind.CHECKOUT_STARTED, message=f"Session {session['id']}"
    )
    order.stripe_session_id, order.stripe_session_url = session["id"], locked.stripe_session_url


def checkout_session_retrieve(*, session_id: str) -> dict:
    return stripe_call(lambda client: client.v1.checkout.sessions.retrieve(session_id))

"""A small Stripe-compatible server for tests, on loopback (there is no network to Stripe).

It implements what the app calls, with Stripe's documented request and object shapes:
form-encoded bracket parameters, Bearer authentication, JSON objects and errors, and
idempotency (the same Idempotency-Key returns the stored response, including errors; the
same key with other parameters is an `idempotency_error`; a concurrent request with a key in
flight gets 409). Endpoints:

    POST /v1/checkout/sessions              https://docs.stripe.com/api/checkout/sessions/create
    GET  /v1/checkout/sessions/<id>         .../retrieve
    GET  /v1/checkout/sessions              .../list (created[...], payment_intent, status)
    POST /v1/checkout/sessions/<id>/expire  .../expire
    GET  /v1/payment_intents/<id>           https://docs.stripe.com/api/payment_intents/retrieve
                                            (expand[]=payment_method)
    GET  /v1/promotion_codes                https://docs.stripe.com/api/promotion_codes/list
    POST /v1/refunds                        https://docs.stripe.com/api/refunds/create
    GET  /v1/refunds                        https://docs.stripe.com/api/refunds/list (created[...])
    GET  /v1/disputes                       https://docs.stripe.com/api/disputes/list (created[...])
    GET  /v1/charges/<id>                   https://docs.stripe.com/api/charges/retrieve
    GET  /pay/<id>, POST /pay/<id>          the hosted payment page
    GET  /recover/<expired id>              a recovery link (after_expiration.recovery.url):
                                            a new session with recovered_from, then its page

Paying on the hosted page completes the session, posts a signed `checkout.session.completed`
event to `webhook_url` (Stripe-Signature: t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<body>")) and
redirects to the session's success_url. Test helpers complete sessions, send the other events
(async payment succeeded/failed, expired, charge.refunded, charge.dispute.created/updated/closed) signed,
badly signed, unsigned or stale, and inject failures (errors, an unreachable server, a
hanging one, answers delayed per endpoint).

A paid session's PaymentIntent has a PaymentMethod of the type the buyer chose (card, SEPA,
Bacs or ACH debit, bank transfer as `customer_balance`, Link), shaped as Stripe's
https://docs.stripe.com/api/payment_methods/object.

Billing — customers, tax IDs, invoices, credit notes, Checkout's tax ID collection,
automatic tax and invoice_creation — is the `StripeBilling` mixin in
tests/support/stripe_billing.py."""

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.support.stripe_billing import StripeBilling

API_VERSION = "2026-10-28.endive"
ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "xof", "xaf"}
# Stripe's test payment details, per PaymentMethod type (https://docs.stripe.com/testing).
PAYMENT_METHOD_DETAILS = {
    "card": {
        "brand": "visa",
        "display_brand": "visa",
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "funding": "credit",
        "last4": "4242",
        "wallet": None,
    },
    "sepa_debit": {"bank_code": "37040044", "country": "DE", "last4": "3000"},
    "bacs_debit": {"last4": "2345", "sort_code": "108800"},
    "us_bank_account": {
        "account_holder_type": "company",
        "account_type": "checking",
        "bank_name": "STRIPE TEST BANK",
        "last4": "6789",
        "routing_number": "110000000",
    },
    "customer_balance": {},
    "link": {"email": "buyer@example.com"},
}
# Methods whose payment the bank confirms days later (checkout completes `unpaid`).
DELAYED_METHODS = {"sepa_debit", "bacs_debit", "us_bank_account", "customer_balance"}
KEY_PART = re.compile(r"\[([^\]]*)\]")


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, type_="invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, **extra}}


def decode_params(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's bracket encoding: line_items[0][price_data][currency]=usd → nested dicts
    and lists (https://docs.stripe.com/api/request_ids — form-encoded bodies)."""
    root: dict = {}
    for raw_key, value in pairs:
        head = raw_key.split("[", 1)[0]
        keys = [head, *KEY_PART.findall(raw_key[len(head) :])]
        _assign(root, keys, value)
    return root


def _assign(container, keys, value):
    for position, key in enumerate(keys):
        last = position == len(keys) - 1
        following = None if last else keys[position + 1]
        fresh = [] if following is not None and (following.isdigit() or following == "") else {}
        if isinstance(container, list):
            index = int(key) if key else len(container)
            container.extend([None] * (index + 1 - len(container)))
            if last:
                container[index] = value
            else:
                container[index] = container[index] if container[index] is not None else fresh
                container = container[index]
        elif last:
            container[key] = value
        else:
            container = container.setdefault(key, fresh)


def _truthy(value) -> bool:
    return str(value).lower() in ("true", "1")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class FakeStripe(StripeBilling):
    """State and behaviour; `StripeTestServer` puts it on HTTP."""

    def __init__(self, *, api_key: str, webhook_secret: str):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = ""
        self.base_url = ""
        self.lock = threading.RLock()
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.promotion_codes: dict[str, dict] = {}
        self.payment_methods: dict[str, dict] = {}
        # (method or "", path prefix, seconds): API answers held back that long
        self.delays: list[tuple[str, str, float]] = []
        self.events: list[dict] = []
        self.requests: list[dict] = []  # every API call: method, path, params, key
        self.deliveries: list[tuple[str, int]] = []  # (event id, HTTP status from the app)
        self.answered: list[tuple[str, str]] = []  # (method, path) of each answer sent
        self.idempotency: dict[str, tuple[str, int, dict]] = {}
        self.in_flight: set[str] = set()
        self.fail_next_count = 0
        self.fail_status = 500
        self.unreachable = False
        # While set, API calls get no answer at all until it is cleared (a hanging Stripe).
        self.hanging = threading.Event()
        self.released = threading.Event()
        self.sequence = 0
        self.billing_state_init()

    # --- Failure injection -------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 500):
        """The next `count` API calls answer an api_error (stored under their idempotency
        key, as Stripe does)."""
        self.fail_next_count, self.fail_status = count, status

    def hang(self, on: bool = True):
        """API calls wait without an answer (until `hang(False)`), like an overloaded host."""
        if on:
            self.released.clear()
            self.hanging.set()
        else:
            self.hanging.clear()
            self.released.set()

    def delay(self, seconds: float, *, method: str = "", path: str = ""):
        """Answers to API calls matching `method` and the `path` prefix (all by default) are
        sent `seconds` late; the work is done first, as a slow Stripe does it (a client that
        gave up may still have created the session; its idempotency key finds it)."""
        self.delays.append((method, path, seconds))

    def delay_for(self, method: str, path: str) -> float:
        for rule_method, prefix, seconds in self.delays:
            if rule_method in ("", method) and path.startswith(prefix):
                return seconds
        return 0.0

    def reset(self):
        """Forget everything (between tests); the server keeps its address."""
        self.hang(False)
        with self.lock:
            base_url = self.base_url
            self.__init__(api_key=self.api_key, webhook_secret=self.webhook_secret)
            self.base_url = base_url

    # --- API ------------------------------------------------------------------------------

    def handle_api(self, method: str, path: str, params: dict, key: str | None) -> tuple:
        self.requests.append({"method": method, "path": path, "params": params, "key": key})
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if key and method == "POST":
            with self.lock:
                if key in self.in_flight:
                    raise StripeError(
                        409,
                        "There is currently another in-progress request using this "
                        f"Idempotent Key (that probably means you submitted twice): {key}",
                        type_="idempotency_error",
                    )
                stored = self.idempotency.get(key)
                if stored:
                    if stored[0] != fingerprint:
                        raise StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other "
                            f"than '{key}' if you meant to execute a different request.",
                            type_="idempotency_error",
                        )
                    return stored[1], stored[2], True
                self.in_flight.add(key)
        try:
            status, body = self._api_result(method, path, params)
        finally:
            if key and method == "POST":
                with self.lock:
                    self.in_flight.discard(key)
        if key and method == "POST":
            self.idempotency[key] = (fingerprint, status, body)
        return status, body, False

    def _api_result(self, method, path, params) -> tuple[int, dict]:
        if self.billing_fault(method, path):
            error = StripeError(self.fail_status, "An unknown error occurred", type_="api_error")
            return error.status, error.body
        if self.fail_next_count:
            self.fail_next_count -= 1
            error = StripeError(self.fail_status, "An unknown error occurred", type_="api_error")
            return error.status, error.body
        try:
            return 200, self._route(method, path, params)
        except StripeError as exc:
            return exc.status, exc.body

    def _route(self, method, path, params) -> dict:
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(parts) == 3:
                return self.session_create(params)
            if method == "GET" and len(parts) == 3:
                return self.session_list(params)
            if method == "GET" and len(parts) == 4:
                return self._session(parts[3])
            if method == "POST" and len(parts) == 5 and parts[4] == "expire":
                return self.session_expire(parts[3], deliver=True)
        if parts[:2] == ["v1", "payment_intents"] and len(parts) == 3 and method == "GET":
            return self.payment_intent_retrieve(parts[2], params)
        if parts == ["v1", "promotion_codes"] and method == "GET":
            return self.promotion_code_list(params)
        if parts == ["v1", "refunds"] and method == "POST":
            return self.refund_create(params, deliver=True)
        if parts == ["v1", "refunds"] and method == "GET":
            return self.object_list(self.refunds, params, "/v1/refunds")
        if parts == ["v1", "disputes"] and method == "GET":
            return self.object_list(self.disputes, params, "/v1/disputes")
        if parts[:2] == ["v1", "charges"] and len(parts) == 3 and method == "GET":
            if parts[2] not in self.charges:
                raise StripeError(404, f"No such charge: '{parts[2]}'", code="resource_missing")
            return dict(self.charges[parts[2]])
        billing = self.billing_route(method, parts, params)
        if billing is not None:
            return billing
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    # --- Checkout Sessions --------------------------------------------------------------

    def session_create(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise StripeError(400, "This fake only supports mode=payment.", param="mode")
        if not params.get("success_url"):
            raise StripeError(400, "Missing required param: success_url.", param="success_url")
        if _truthy(params.get("allow_promotion_codes")) and params.get("discounts"):
            raise StripeError(
                400,
                "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            )
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "Missing required param: line_items.", param="line_items")
        currency, subtotal = self._line_items_total(items)
        with self.lock:
            self.sequence += 1
            session_id = _new_id("cs_test")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "allow_promotion_codes": _truthy(params.get("allow_promotion_codes")) or None,
                "amount_subtotal": subtotal,
                "amount_total": subtotal,
                "cancel_url": params.get("cancel_url"),
                "client_reference_id": params.get("client_reference_id"),
                "created": int(time.time()),
                "currency": currency,
                "customer_email": params.get("customer_email"),
                "customer_details": None,
                "discounts": [],
                "expires_at": int(time.time()) + 86400,
                "livemode": False,
                "metadata": params.get("metadata") or {},
                "mode": "payment",
                "payment_intent": None,
                "payment_intent_data_metadata": (params.get("payment_intent_data") or {}).get(
                    "metadata"
                )
                or {},
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params["success_url"],
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "url": f"{self.base_url}/pay/{session_id}",
                "_sequence": self.sequence,
                "_line_items": items,
            }
            for discount in params.get("discounts") or []:
                self._discount_apply(session, discount.get("promotion_code"))
            self._abandoned_cart_fields(session, params)
            self.session_billing_init(session, params)
            self.sessions[session_id] = session
        return self._public(session)

    @staticmethod
    def _line_items_total(items) -> tuple[str, int]:
        currency, subtotal = None, 0
        for item in items:
            data = item.get("price_data") or {}
            if not data.get("currency") or data.get("unit_amount") is None:
                raise StripeError(400, "line_items need price_data with currency and unit_amount")
            if not (data.get("product_data") or {}).get("name"):
                raise StripeError(400, "Missing required param: product_data[name].")
            if currency not in (None, data["currency"]):
                raise StripeError(400, "All line items must use the same currency.")
            currency = data["currency"]
            subtotal += int(data["unit_amount"]) * int(item.get("quantity") or 1)
        return currency, subtotal

    def _discount_apply(self, session, promotion_code_id):
        promo = self.promotion_codes.get(promotion_code_id or "")
        if promo is None or not promo["active"]:
            raise StripeError(
                400, f"No such promotion code: '{promotion_code_id}'", code="resource_missing"
            )
        coupon = promo["coupon"]
        if coupon.get("percent_off"):
            discount = round(session["amount_subtotal"] * coupon["percent_off"] / 100)
        else:
            discount = min(session["amount_subtotal"], self._amount_off(coupon, session))
        session["discounts"] = [{"coupon": coupon["id"], "promotion_code": promo["id"]}]
        session["total_details"]["amount_discount"] = discount
        session["amount_total"] = session["amount_subtotal"] - discount

    @staticmethod
    def _amount_off(coupon, session) -> int:
        """A fixed-amount coupon applies in its currency or one of its currency_options."""
        currency = session["currency"]
        if (coupon.get("currency") or "usd") == currency:
            return coupon["amount_off"]
        option = (coupon.get("currency_options") or {}).get(currency)
        if option is None:
            raise StripeError(400, f"This coupon cannot be used with currency {currency}.")
        return option["amount_off"]

    def _session(self, session_id: str) -> dict:
        session = self.sessions.get(session_id)
        if session is None:
            raise StripeError(
                404,
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                param="session",
            )
        return self._public(session)

    @staticmethod
    def _public(session: dict) -> dict:
        return {k: v for k, v in session.items() if not k.startswith(("_", "payment_intent_d"))}

    def session_list(self, params: dict) -> dict:
        limit = min(100, int(params.get("limit") or 10))
        created = params.get("created") or {}
        rows = sorted(self.sessions.values(), key=lambda s: -s["_sequence"])
        tests = {
            "gte": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "lte": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
        }
        for op, value in created.items():
            rows = [s for s in rows if tests[op](s["created"], int(value))]
        for name in ("payment_intent", "status"):
            if params.get(name):
                rows = [s for s in rows if s.get(name) == params[name]]
        if params.get("starting_after"):
            ids = [s["id"] for s in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        page = rows[:limit]
        return {
            "object": "list",
            "data": [self._public(s) for s in page],
            "has_more": len(rows) > limit,
            "url": "/v1/checkout/sessions",
        }

    def object_list(self, objects: dict[str, dict], params: dict, url: str) -> dict:
        """A Stripe list of refunds or disputes: newest first, `created[gte|gt|lte|lt]`,
        `payment_intent`, `starting_after` and `limit` (https://docs.stripe.com/api/pagination)."""
        tests = {
            "gte": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "lte": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
        }
        with self.lock:
            rows = sorted(objects.values(), key=lambda o: (-o["created"], -o["_sequence"]))
        for op, value in (params.get("created") or {}).items():
            rows = [o for o in rows if tests[op](o["created"], int(value))]
        if params.get("payment_intent"):
            rows = [o for o in rows if o.get("payment_intent") == params["payment_intent"]]
        if params.get("starting_after"):
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(params["starting_after"]) + 1 :]
        limit = min(100, int(params.get("limit") or 10))
        return {
            "object": "list",
            "data": [self._public(o) for o in rows[:limit]],
            "has_more": len(rows) > limit,
            "url": url,
        }

    def _next_sequence(self) -> int:
        with self.lock:
            self.sequence += 1
            return self.sequence

    # --- Paying, and what Stripe does afterwards ----------------------------------------

    def session_pay(
        self,
        session_id: str,
        *,
        outcome: str = "card",
        method: str = "",
        deliver: bool = True,
        tax_id: tuple[str, str] | None = None,
        country: str = "",
        **details,
    ):
        """What the hosted page does: complete the session, paid with a PaymentMethod of
        type `method` (by default a Visa card for outcome "card", a bank transfer for
        "async"; `details` override its test details, e.g. brand="mastercard"), and send
        checkout.session.completed. Cards and Link are paid at once; bank debits and
        transfers wait for `async_payment_succeed`. `country` and `tax_id` ((type, value))
        are what the buyer typed (stripe_billing.py: tax, customer, invoice). A session
        whose total is 0 (a 100% discount) completes `no_payment_required`, with no
        PaymentIntent, as Stripe's does. Returns the event."""
        method = method or ("card" if outcome == "card" else "customer_balance")
        with self.lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise StripeError(400, f"This Checkout Session is {session['status']}.")
            self.session_billing_complete(session, tax_id=tax_id, country=country)
            if session["amount_total"] == 0:
                session.update(status="complete", payment_status="no_payment_required")
                self.session_invoice_create(session)
                return self.event_emit("checkout.session.completed", self._public(session), deliver)
            intent = self._payment_intent_create(session)
            intent["payment_method"] = self._payment_method_create(method, details)["id"]
            intent["payment_method_types"] = [method]
            session.update(status="complete", payment_intent=intent["id"])
            if method in DELAYED_METHODS:
                intent["status"] = "processing"
            else:
                self._payment_succeed(session)
                self.session_invoice_create(session)
        return self.event_emit("checkout.session.completed", self._public(session), deliver)

    def _payment_method_create(self, type_: str, details: dict) -> dict:
        if type_ not in PAYMENT_METHOD_DETAILS:
            raise StripeError(400, f"Invalid payment_method type: {type_}", param="type")
        method = {
            "id": _new_id("pm"),
            "object": "payment_method",
            "billing_details": {"email": None, "name": None},
            "created": int(time.time()),
            "livemode": False,
            "type": type_,
            type_: {**PAYMENT_METHOD_DETAILS[type_], **details},
        }
        self.payment_methods[method["id"]] = method
        return method

    def payment_intent_retrieve(self, intent_id: str, params: dict) -> dict:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeError(
                404, f"No such payment_intent: '{intent_id}'", code="resource_missing"
            )
        intent = dict(intent)
        expand = params.get("expand") or []
        if "payment_method" in expand and intent.get("payment_method"):
            intent["payment_method"] = dict(self.payment_methods[intent["payment_method"]])
        return intent

    def _payment_intent_create(self, session) -> dict:
        intent = {
            "id": _new_id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "metadata": session["payment_intent_data_metadata"],
            "status": "requires_payment_method",
            "latest_charge": None,
            "payment_method": None,
            "payment_method_types": list(session["payment_method_types"]),
        }
        self.payment_intents[intent["id"]] = intent
        return intent

    def _payment_succeed(self, session):
        self._charge_succeed(self.payment_intents[session["payment_intent"]])
        session["payment_status"] = "paid"

    def _charge_succeed(self, intent: dict) -> dict:
        """The intent's charge succeeded (a Checkout payment, an invoice paid by transfer)."""
        charge = {
            "id": _new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "captured": True,
            "created": int(time.time()),
            "currency": intent["currency"],
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "paid": True,
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "payment_method_details": self._method_details(intent["payment_method"]),
            "refunded": False,
            "status": "succeeded",
        }
        self.charges[charge["id"]] = charge
        intent.update(status="succeeded", latest_charge=charge["id"])
        return charge

    def _method_details(self, method_id) -> dict | None:
        method = self.payment_methods.get(method_id or "")
        return {"type": method["type"], method["type"]: method[method["type"]]} if method else None

    def async_payment_succeed(self, session_id: str, *, deliver: bool = True) -> dict:
        with self.lock:
            session = self.sessions[session_id]
            self._payment_succeed(session)
            self.session_invoice_create(session)
        return self.event_emit(
            "checkout.session.async_payment_succeeded", self._public(session), deliver
        )

    def async_payment_fail(self, session_id: str, *, deliver: bool = True) -> dict:
        with self.lock:
            session = self.sessions[session_id]
            self.payment_intents[session["payment_intent"]]["status"] = "requires_payment_method"
        return self.event_emit(
            "checkout.session.async_payment_failed", self._public(session), deliver
        )

    def session_expire(self, session_id: str, *, deliver: bool = True) -> dict:
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise StripeError(404, f"No such checkout.session: '{session_id}'")
            if session["status"] != "open":
                raise StripeError(400, f"Only open sessions can be expired ({session['status']}).")
            session["status"] = "expired"
            self._recovery_attach(session)
        self.event_emit("checkout.session.expired", self._public(session), deliver)
        return self._public(session)

    def session_tamper(self, session_id: str, **fields):
        """Change a session behind the app's back (e.g. another amount) for mismatch tests."""
        with self.lock:
            self.sessions[session_id].update(fields)

    def charge_for(self, session_id: str) -> dict:
        intent = self.payment_intents[self.sessions[session_id]["payment_intent"]]
        return self.charges[intent["latest_charge"]]

    def refund_create(self, params: dict, *, deliver: bool = True, emit: bool = True) -> dict:
        intent = self.payment_intents.get(params.get("payment_intent") or "")
        charge = self.charges.get(params.get("charge") or "") or (
            self.charges.get(intent["latest_charge"] or "") if intent else None
        )
        if charge is None:
            raise StripeError(400, "No such charge or payment_intent.", code="resource_missing")
        with self.lock:
            remaining = charge["amount"] - charge["amount_refunded"]
            amount = int(params.get("amount") or remaining)
            if remaining <= 0:
                raise StripeError(
                    400,
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                )
            refund = {
                "id": _new_id("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": params.get("metadata") or {},
                "payment_intent": charge["payment_intent"],
                "reason": params.get("reason"),
                "status": "succeeded",
                "_sequence": self._next_sequence(),
            }
            self.refunds[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        if emit:  # Stripe sends the event after the API call has answered
            self.event_emit("charge.refunded", dict(charge), deliver, background=True)
        return self._public(refund)

    def refund_session(self, session_id: str, *, amount=None, deliver=True) -> dict:
        """A refund made in the Stripe dashboard; sends charge.refunded."""
        intent_id = self.sessions[session_id]["payment_intent"]
        params = {"payment_intent": intent_id, **({"amount": amount} if amount else {})}
        refund = self.refund_create(params, emit=False)
        self.event_emit("charge.refunded", dict(self.charge_for(session_id)), deliver)
        return refund

    def dispute_create(self, session_id: str, *, deliver: bool = True) -> dict:
        charge = self.charge_for(session_id)
        dispute = {
            "id": _new_id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "charge": charge["id"],
            "currency": charge["currency"],
            "created": int(time.time()),
            "evidence_details": {"due_by": int(time.time()) + 7 * 86400},
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }
        with self.lock:
            self.disputes[dispute["id"]] = dict(dispute, _sequence=self._next_sequence())
            charge["disputed"] = True
        return self.event_emit("charge.dispute.created", dispute, deliver)

    def dispute_status_set(self, dispute_id: str, status: str, *, deliver: bool = True) -> dict:
        """The dispute moves on (`won`, `lost`, or back to `under_review`): a closing status
        sends charge.dispute.closed, any other charge.dispute.updated."""
        with self.lock:
            stored = self.disputes[dispute_id]
            stored["status"] = status
            dispute = {k: v for k, v in stored.items() if not k.startswith("_")}
        closed = status in ("won", "lost", "warning_closed")
        kind = "charge.dispute.closed" if closed else "charge.dispute.updated"
        return self.event_emit(kind, dispute, deliver)

    # --- Promotion codes ----------------------------------------------------------------

    def promotion_code_add(
        self, code: str, *, percent_off=None, amount_off=None, active=True, currency=None,
        currency_options=None,
    ):  # fmt: skip
        coupon = {
            "id": _new_id("co"),
            "object": "coupon",
            "percent_off": percent_off,
            "amount_off": amount_off,
            # A fixed amount is in one currency (usd unless given), with optional amounts in
            # others: {"eur": {"amount_off": 5000}}.
            "currency": (currency or "usd") if amount_off else None,
            "currency_options": currency_options,
            "valid": True,
        }
        promo = {
            "id": _new_id("promo"),
            "object": "promotion_code",
            "active": active,
            "code": code,
            "coupon": coupon,
        }
        self.promotion_codes[promo["id"]] = promo
        return promo

    def promotion_code_list(self, params: dict) -> dict:
        rows = list(self.promotion_codes.values())
        if params.get("code"):  # customer-facing codes are case-insensitive
            rows = [p for p in rows if p["code"].lower() == params["code"].lower()]
        if "active" in params:
            rows = [p for p in rows if p["active"] == _truthy(params["active"])]
        limit = int(params.get("limit") or 10)
        return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit}

    # --- Events and webhooks ------------------------------------------------------------

    def event_build(self, type_: str, obj: dict) -> dict:
        event = {
            "id": _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        return event

    def event_emit(self, type_, obj, deliver, *, background=False) -> dict:
        event = self.event_build(type_, obj)
        if deliver and self.webhook_url:
            if background:  # as Stripe does: after the API call has answered
                threading.Thread(target=self.event_send, args=(event,), daemon=True).start()
            else:
                self.event_send(event)
        return event

    def signature_header(self, body: bytes, *, secret=None, timestamp=None, secrets=()) -> str:
        """`t=…,v1=…`; with `secrets`, one v1 signature per secret, as Stripe signs while an
        endpoint's old secret is still live after "roll secret"."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        signed = f"{timestamp}.".encode() + body
        signatures = [
            hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
            for key in (secrets or [secret or self.webhook_secret])
        ]
        return f"t={timestamp}," + ",".join(f"v1={digest}" for digest in signatures)

    def signed_request(self, event: dict, *, signature: str = "valid") -> tuple[bytes, dict]:
        """The body and headers Stripe would post. signature: valid | bad | missing |
        stale (signed 10 minutes ago) | tampered (valid header, body changed after)."""
        body = json.dumps(event, indent=2).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature == "valid":
            headers["Stripe-Signature"] = self.signature_header(body)
        elif signature == "bad":
            headers["Stripe-Signature"] = self.signature_header(body, secret="whsec_wrong")
        elif signature == "stale":
            stale = int(time.time()) - 600
            headers["Stripe-Signature"] = self.signature_header(body, timestamp=stale)
        elif signature == "tampered":
            headers["Stripe-Signature"] = self.signature_header(body)
            body = body.replace(b'"livemode": false', b'"livemode": true ')
        return body, headers

    def event_send(self, event: dict, *, signature: str = "valid", url: str = "") -> int:
        body, headers = self.signed_request(event, signature=signature)
        request = urllib.request.Request(
            url or self.webhook_url, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        self.deliveries.append((event["id"], status))
        return status

    # --- Abandoned carts: consent, expiry's recovery link, recovered sessions (issue 25) ---
    # https://docs.stripe.com/payments/checkout/abandoned-carts

    RECOVERY_DAYS = 30  # a recovery link works for 30 days after the session expired

    def _abandoned_cart_fields(self, session: dict, params: dict) -> None:
        """`after_expiration[recovery]` and `consent_collection[promotions]` as Stripe keeps
        them on the session; `consent` is filled when the buyer answers on the page."""
        recovery = (params.get("after_expiration") or {}).get("recovery") or {}
        session["after_expiration"] = (
            {
                "recovery": {
                    "allow_promotion_codes": _truthy(recovery.get("allow_promotion_codes")),
                    "enabled": True,
                    "expires_at": None,
                    "url": None,
                }
            }
            if _truthy(recovery.get("enabled"))
            else None
        )
        consent = params.get("consent_collection") or {}
        if consent.get("promotions") not in (None, "auto", "none"):
            raise StripeError(400, "Invalid consent_collection[promotions].", param="consent")
        session["consent_collection"] = (
            {"promotions": consent["promotions"], "terms_of_service": None} if consent else None
        )
        session["consent"] = None
        session["recovered_from"] = params.get("_recovered_from")

    def session_consent(self, session_id: str, promotions: str = "opt_in") -> None:
        """The buyer ticks (opt_in) or leaves (opt_out) Checkout's promotional-email box,
        which Stripe keeps on the session even if they never pay."""
        with self.lock:
            session = self.sessions[session_id]
            if (session.get("consent_collection") or {}).get("promotions") != "auto":
                raise StripeError(400, "This session does not collect promotional consent.")
            session["consent"] = {"promotions": promotions, "terms_of_service": None}

    def _consent_box(self, session: dict) -> str:
        if (session.get("consent_collection") or {}).get("promotions") != "auto":
            return ""
        return (
            '<p><label><input type="checkbox" name="promotions" value="opt_in" id="promotions">'
            " Keep me updated with news and personalised offers</label></p>"
        )

    def _consent_from_page(self, session: dict, form: dict) -> None:
        if (session.get("consent_collection") or {}).get("promotions") == "auto":
            answer = "opt_in" if form.get("promotions") == "opt_in" else "opt_out"
            self.session_consent(session["id"], answer)

    def _recovery_attach(self, session: dict) -> None:
        """On expiry, a session created with recovery enabled gets its recovery link."""
        recovery = (session.get("after_expiration") or {}).get("recovery")
        if recovery:
            recovery["url"] = f"{self.base_url}/recover/{session['id']}"
            recovery["expires_at"] = int(time.time()) + self.RECOVERY_DAYS * 86400

    def session_recover(self, expired_id: str, *, keep_reference: bool = True) -> dict:
        """What opening the recovery link does: a new open session, a copy of the expired
        one (line items, email, URLs, metadata, client_reference_id; promotion codes as the
        recovery allowed), with `recovered_from` set to the expired session's id.
        `keep_reference=False` leaves client_reference_id out, to test matching by
        `recovered_from` alone. An open recovered session is reused."""
        with self.lock:
            expired = self.sessions.get(expired_id)
            recovery = ((expired or {}).get("after_expiration") or {}).get("recovery") or {}
            if expired is None or expired["status"] != "expired" or not recovery.get("url"):
                raise StripeError(404, "This recovery link is not valid.")
            if recovery["expires_at"] < time.time():
                raise StripeError(410, "This recovery link has expired.")
            for session in self.sessions.values():
                if session.get("recovered_from") == expired_id and session["status"] == "open":
                    return self._public(session)
            params = {
                "mode": "payment",
                "success_url": expired["success_url"],
                "cancel_url": expired["cancel_url"],
                "customer_email": expired["customer_email"],
                "metadata": expired["metadata"],
                "line_items": expired["_line_items"],
                "payment_intent_data": {"metadata": expired["payment_intent_data_metadata"]},
                "allow_promotion_codes": "true" if recovery["allow_promotion_codes"] else None,
                "consent_collection": expired.get("consent_collection") or {},
                "_recovered_from": expired_id,
            }
            if keep_reference:
                params["client_reference_id"] = expired["client_reference_id"]
        return self.session_create({k: v for k, v in params.items() if v is not None})

    # --- The hosted payment page --------------------------------------------------------

    def pay_page(self, session_id: str, error: str = "") -> str:
        session = self.sessions.get(session_id)
        if session is None:
            return "<h1>No such checkout session</h1>"
        amount = session["amount_total"]
        major = amount if session["currency"] in ZERO_DECIMAL else amount / 100
        name = session["_line_items"][0]["price_data"]["product_data"]["name"]
        promo = (
            '<p><label>Promotion code <input name="promotion_code"></label></p>'
            if session.get("allow_promotion_codes") and not session["discounts"]
            else ""
        )
        if session["status"] != "open":
            return f"<h1>This checkout session is {session['status']}</h1>"
        return f"""<!doctype html><html><head><title>Pay — test Stripe</title></head><body>
<h1>Test Stripe Checkout</h1><p id="product">{html.escape(name)}</p>
<p id="amount">{session["currency"].upper()} {major:,.2f}</p>
<p>{html.escape(session.get("customer_email") or "")}</p>
{f'<p id="error" style="color:red">{html.escape(error)}</p>' if error else ""}
<form method="post">{promo}{self._consent_box(session)}{self.pay_page_billing_fields(session)}
<button type="submit" name="outcome" value="card" id="pay">Pay</button>
<button type="submit" name="outcome" value="async" id="pay-later">Pay by bank transfer</button>
<button type="submit" name="method" value="sepa_debit" id="pay-sepa">Pay by SEPA Direct Debit</button>
</form><p><a href="{html.escape(session["cancel_url"] or "/")}" id="cancel">Cancel</a></p>
</body></html>"""

    def pay_submit(self, session_id: str, form: dict) -> tuple[int, str, str]:
        """(status, location, html) for the page's POST."""
        session = self.sessions.get(session_id)
        if session is None or session["status"] != "open":
            return 409, "", self.pay_page(session_id)
        code = (form.get("promotion_code") or "").strip()
        if code:
            found = self.promotion_code_list({"code": code, "active": "true"})["data"]
            if not found:
                return 200, "", self.pay_page(session_id, error="This code is invalid.")
            with self.lock:
                self._discount_apply(session, found[0]["id"])
        self._consent_from_page(session, form)
        tax_id = ("eu_vat", form["tax_id"].strip().upper()) if form.get("tax_id") else None
        self.session_pay(
            session_id,
            outcome=form.get("outcome") or "card",
            method=form.get("method") or "",
            country=(form.get("country") or "").strip().upper(),
            tax_id=tax_id,
        )
        location = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
        return 303, location, ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "StripeTestServer"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if fake.unreachable:
            self.close_connection = True
            self.connection.shutdown(2)  # like a dead host: no answer at all
            return
        if fake.hanging.is_set() and not self.path.startswith("/pay/"):
            fake.released.wait(timeout=120)
            self.close_connection = True
            return
        url = urlsplit(self.path)
        if url.path.startswith("/recover/"):
            return self._recover(url.path.rsplit("/", 1)[-1])
        if url.path.startswith("/pay/"):
            return self._pay(method, url.path.rsplit("/", 1)[-1], body)
        if url.path.startswith("/invoice/"):
            return self._invoice_hosted(method, url.path.split("/"))
        if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            error = StripeError(401, "Invalid API Key provided.", type_="authentication_error")
            return self._json(error.status, error.body)
        pairs = parse_qsl(url.query if method == "GET" else body, keep_blank_values=True)
        try:
            status, payload, replayed = fake.handle_api(
                method, url.path, decode_params(pairs), self.headers.get("Idempotency-Key")
            )
        except StripeError as exc:
            retry = "true" if exc.status == 409 else "false"
            return self._json(exc.status, exc.body, {"Stripe-Should-Retry": retry})
        extra = {"Idempotent-Replayed": "true"} if replayed else {}
        if status >= 500:
            extra["Stripe-Should-Retry"] = "false"  # the key now replays this error
        time.sleep(fake.delay_for(method, url.path))
        try:
            self._json(status, payload, extra)
        except OSError:  # the client gave up waiting
            self.close_connection = True
        fake.answered.append((method, url.path))

    def _pay(self, method, session_id, body):
        fake = self.server.fake
        if method == "GET":
            return self._send(200, fake.pay_page(session_id).encode(), "text/html")
        status, location, page = fake.pay_submit(session_id, dict(parse_qsl(body)))
        self._send(status, page.encode(), "text/html", {"Location": location} if location else {})

    def _recover(self, expired_id):
        """Stripe's recovery link: a new session copied from the expired one, then its page."""
        try:
            session = self.server.fake.session_recover(expired_id)
        except StripeError as exc:
            return self._send(exc.status, html.escape(str(exc)).encode(), "text/html")
        self._send(303, b"", "text/html", {"Location": session["url"]})

    def _invoice_hosted(self, method, parts):
        """/invoice/<id> (the hosted invoice page; its POST sends the bank transfer) and
        /invoice/<id>/pdf."""
        fake = self.server.fake
        if len(parts) > 3 and parts[3] == "pdf":
            return self._send(200, b"%PDF-1.4\n% test invoice\n%%EOF\n", "application/pdf")
        if method == "POST" and fake.invoices.get(parts[2], {}).get("status") == "open":
            fake.invoice_pay_bank_transfer(parts[2])  # paid or voided: the page says so
        self._send(200, fake.invoice_page(parts[2]).encode(), "text/html")

    def _json(self, status, payload, headers=None):
        headers = {"Request-Id": _new_id("req"), **(headers or {})}
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status, body: bytes, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class StripeTestServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, api_key: str, webhook_secret: str, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.fake = FakeStripe(api_key=api_key, webhook_secret=webhook_secret)
        self.fake.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.thread = None

    @property
    def url(self) -> str:
        return self.fake.base_url

    def start(self) -> "StripeTestServer":
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


def main():  # pragma: no cover - a developer tool
    """`python -m tests.support.stripe_server [port] [webhook_url]`: try checkout locally
    without Stripe. Start the site with the printed variables."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8199
    server = StripeTestServer(api_key="sk_test_local", webhook_secret="whsec_local", port=port)
    server.fake.webhook_url = sys.argv[2] if len(sys.argv) > 2 else ""
    print(
        f"STRIPE_API_BASE={server.url} STRIPE_SECRET_KEY=sk_test_local "
        "STRIPE_WEBHOOK_SECRET=whsec_local",
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()

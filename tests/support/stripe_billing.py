"""Stripe Billing for the Stripe test server (tests/support/stripe_server.py): customers with
tax IDs, invoice items, invoices (create, finalize, send, pay — also `paid_out_of_band` —,
void), credit notes, and what Checkout adds for companies (billing address, tax IDs,
automatic tax, `invoice_creation`). A mixin of `FakeStripe`, kept apart from the Checkout
code so the two grow without stepping on each other.

    POST /v1/customers                      https://docs.stripe.com/api/customers/create
                                            (tax_id_data[], address[country])
    GET  /v1/customers/<id>                 .../retrieve
    POST /v1/invoices                       https://docs.stripe.com/api/invoices/create
    GET  /v1/invoices/<id>                  .../retrieve (expand[]=payments)
    GET  /v1/invoices                       .../list (customer, status)
    POST /v1/invoices/<id>/finalize         .../finalize
    POST /v1/invoices/<id>/send             .../send
    POST /v1/invoices/<id>/pay              .../pay (paid_out_of_band=true)
    POST /v1/invoices/<id>/void             .../void
    POST /v1/invoiceitems                   https://docs.stripe.com/api/invoiceitems/create
    POST /v1/credit_notes                   https://docs.stripe.com/api/credit_notes/create
                                            (refund_amount, refunds[], out_of_band_amount)
    GET  /v1/credit_notes                   .../list (invoice)
    GET  /invoice/<id>, POST /invoice/<id>  the hosted invoice page (pay by bank transfer)
    GET  /invoice/<id>/pdf                  the invoice PDF

Shapes follow API version 2026-10-28: an invoice's taxes are `total_taxes`, its payments
the includable `payments` list (no `paid_out_of_band` field: an invoice paid out of band is
`paid` with no payment). Test helpers pay an invoice by bank transfer as the buyer would,
make one overdue, and emit the signed `invoice.paid`, `invoice.overdue`,
`invoice.finalized` and `invoice.voided` events."""

import html
import re
import time

from tests.support import stripe_server as base

# Stripe Tax stand-in: the rate of the buyer's country, in percent (0 elsewhere).
TAX_RATES = {"DE": 19, "FR": 20, "GB": 20, "NL": 21, "IE": 23}
TAX_ID_FORMATS = {
    "eu_vat": re.compile(r"^[A-Z]{2}[0-9A-Z]{8,12}$"),
    "gb_vat": re.compile(r"^GB[0-9]{9}([0-9]{3})?$"),
    "ch_vat": re.compile(r"^CHE[0-9]{9}(MWST|TVA|IVA)$"),
    "no_vat": re.compile(r"^[0-9]{9}MVA$"),
}


class StripeBilling:
    """State lives on the FakeStripe instance (`billing_state_init`, called by its
    constructor and so by `reset`)."""

    def billing_state_init(self):
        self.customers: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.invoice_items: dict[str, dict] = {}
        self.credit_notes: dict[str, dict] = {}
        self.invoice_counter = 0
        self.path_faults: list[list] = []  # [method, path prefix, calls left to fail]

    def fail_path(self, path: str, *, method: str = "POST", count: int = 1, status: int = 500):
        """The next `count` calls to paths starting with `path` answer an api_error (stored
        under their idempotency key, as Stripe does): a fault in one step of a sequence."""
        self.fail_status = status
        self.path_faults.append([method, path, count])

    def billing_fault(self, method: str, path: str) -> bool:
        with self.lock:
            for fault in self.path_faults:
                if fault[0] == method and path.startswith(fault[1]) and fault[2] > 0:
                    fault[2] -= 1
                    return True
        return False

    # --- Routing (called by FakeStripe._route for paths it does not know) ----------------

    def billing_route(self, method: str, parts: list[str], params: dict):
        """The answer for a billing path, or None when the path is not a billing one."""
        if parts[:2] == ["v1", "customers"]:
            if method == "POST" and len(parts) == 2:
                return self.customer_create(params)
            if method == "GET" and len(parts) == 3:
                return dict(self._billing_get(self.customers, parts[2], "customer"))
        if parts[:2] == ["v1", "invoices"]:
            return self._invoice_route(method, parts, params)
        if parts == ["v1", "invoiceitems"] and method == "POST":
            return self.invoice_item_create(params)
        if parts == ["v1", "credit_notes"]:
            if method == "POST":
                return self.credit_note_create(params)
            rows = [c for c in self.credit_notes.values() if c["invoice"] == params.get("invoice")]
            return {"object": "list", "data": rows, "has_more": False, "url": "/v1/credit_notes"}
        return None

    def _invoice_route(self, method, parts, params):
        if method == "POST" and len(parts) == 2:
            return self.invoice_create(params)
        if method == "GET" and len(parts) == 2:
            rows = [
                self.invoice_public(i, params)
                for i in self.invoices.values()
                if params.get("customer") in (None, i["customer"])
                and params.get("status") in (None, i["status"])
            ]
            return {"object": "list", "data": rows, "has_more": False, "url": "/v1/invoices"}
        invoice = self._billing_get(self.invoices, parts[2], "invoice")
        if method == "GET" and len(parts) == 3:
            return self.invoice_public(invoice, params)
        actions = {
            "finalize": self.invoice_finalize,
            "send": self.invoice_send,
            "pay": self.invoice_pay,
            "void": self.invoice_void,
        }
        if method == "POST" and len(parts) == 4 and parts[3] in actions:
            return actions[parts[3]](invoice, params)
        raise base.StripeError(404, f"Unrecognized request URL ({method}: /{'/'.join(parts)}).")

    @staticmethod
    def _billing_get(objects: dict, object_id: str, name: str) -> dict:
        if object_id not in objects:
            raise base.StripeError(404, f"No such {name}: '{object_id}'", code="resource_missing")
        return objects[object_id]

    # --- Customers and tax IDs ----------------------------------------------------------

    def customer_create(self, params: dict) -> dict:
        tax_ids = [
            self._tax_id(entry, f"tax_id_data[{n}]")
            for n, entry in enumerate(params.get("tax_id_data") or [])
        ]
        customer = {
            "id": base._new_id("cus"),
            "object": "customer",
            "address": params.get("address") or None,
            "created": int(time.time()),
            "description": params.get("description"),
            "email": params.get("email"),
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "name": params.get("name"),
            "tax_ids": {"object": "list", "data": tax_ids},
        }
        with self.lock:
            self.customers[customer["id"]] = customer
        return dict(customer)

    @staticmethod
    def _tax_id(entry: dict, param: str) -> dict:
        kind, value = entry.get("type") or "", (entry.get("value") or "").upper()
        pattern = TAX_ID_FORMATS.get(kind)
        if pattern is None:
            raise base.StripeError(400, f"Invalid tax_id type: {kind}", param=f"{param}[type]")
        if not pattern.match(value):
            raise base.StripeError(
                400, f"Invalid value for {kind}.", code="tax_id_invalid", param=f"{param}[value]"
            )
        country = "GR" if value.startswith("EL") else value[:2]
        return {
            "id": base._new_id("txi"),
            "object": "tax_id",
            "country": country,
            "type": kind,
            "value": value,
            "verification": {"status": "pending"},
        }

    # --- Invoices ------------------------------------------------------------------------

    def invoice_create(self, params: dict) -> dict:
        customer = self._billing_get(self.customers, params.get("customer") or "", "customer")
        method = params.get("collection_method") or "charge_automatically"
        if method == "send_invoice" and not params.get("days_until_due"):
            raise base.StripeError(
                400,
                "Missing required param: days_until_due (collection_method=send_invoice).",
                param="days_until_due",
            )
        settings = params.get("payment_settings") or {}
        invoice = self._invoice_new(
            customer=customer,
            currency=(params.get("currency") or "usd").lower(),
            collection_method=method,
            metadata=params.get("metadata") or {},
            automatic_tax=base._truthy((params.get("automatic_tax") or {}).get("enabled")),
        )
        for discount in params.get("discounts") or []:
            promo = self.promotion_codes.get(discount.get("promotion_code") or "")
            if promo is None:
                raise base.StripeError(400, "No such promotion code.", code="resource_missing")
            invoice["_coupon"] = promo["coupon"]
        invoice.update(
            days_until_due=int(params["days_until_due"]) if params.get("days_until_due") else None,
            description=params.get("description"),
            custom_fields=params.get("custom_fields") or None,
            footer=params.get("footer"),
            payment_settings={
                "payment_method_types": settings.get("payment_method_types") or None,
                "payment_method_options": settings.get("payment_method_options") or None,
            },
        )
        return self.invoice_public(invoice)

    def _invoice_new(self, *, customer, currency, collection_method, metadata, automatic_tax):
        invoice = {
            "id": base._new_id("in"),
            "object": "invoice",
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "automatic_tax": {"enabled": automatic_tax, "status": None},
            "collection_method": collection_method,
            "created": int(time.time()),
            "currency": currency,
            "customer": customer["id"],
            "customer_address": customer.get("address"),
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "customer_tax_ids": [
                {"type": t["type"], "value": t["value"]} for t in customer["tax_ids"]["data"]
            ],
            "due_date": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "lines": {"object": "list", "data": [], "has_more": False},
            "livemode": False,
            "metadata": metadata,
            "number": None,
            "post_payment_credit_notes_amount": 0,
            "status": "draft",
            "status_transitions": {"finalized_at": None, "paid_at": None, "voided_at": None},
            "subtotal": 0,
            "total": 0,
            "total_discount_amounts": [],
            "total_taxes": [],
            "_payment_intent": None,
            "_sent": 0,
        }
        with self.lock:
            self.invoices[invoice["id"]] = invoice
        return invoice

    def invoice_public(self, invoice: dict, params: dict | None = None) -> dict:
        public = {k: v for k, v in invoice.items() if not k.startswith("_")}
        if "payments" in ((params or {}).get("expand") or []):
            paid = invoice["_payment_intent"]
            public["payments"] = {
                "object": "list",
                "data": [
                    {
                        "object": "invoice_payment",
                        "amount_paid": invoice["amount_paid"],
                        "payment": {"type": "payment_intent", "payment_intent": paid},
                        "status": "paid",
                    }
                ]
                if paid
                else [],
                "has_more": False,
            }
        return public

    def invoice_item_create(self, params: dict) -> dict:
        customer = self._billing_get(self.customers, params.get("customer") or "", "customer")
        price = params.get("price_data") or {}
        amount = params.get("amount", price.get("unit_amount"))
        currency = (params.get("currency") or price.get("currency") or "").lower()
        if amount is None or not currency:
            raise base.StripeError(400, "An invoice item needs an amount and a currency.")
        item = {
            "id": base._new_id("ii"),
            "object": "invoiceitem",
            "amount": int(amount),
            "currency": currency,
            "customer": customer["id"],
            "description": params.get("description"),
            "invoice": params.get("invoice"),
            "metadata": params.get("metadata") or {},
        }
        with self.lock:
            if item["invoice"]:
                invoice = self._billing_get(self.invoices, item["invoice"], "invoice")
                if invoice["status"] != "draft":
                    raise base.StripeError(400, "Invoice items can only be added to drafts.")
                if invoice["currency"] != currency:
                    raise base.StripeError(400, "The item's currency differs from the invoice's.")
                line = {"id": base._new_id("il"), "object": "line_item", **item}
                invoice["lines"]["data"].append(line)
                self._invoice_total(invoice)
            self.invoice_items[item["id"]] = item
        return dict(item)

    def _invoice_total(self, invoice: dict) -> None:
        subtotal = sum(line["amount"] for line in invoice["lines"]["data"])
        coupon, discount = invoice.get("_coupon"), 0
        if coupon:
            off = coupon.get("percent_off")
            discount = round(subtotal * off / 100) if off else min(subtotal, coupon["amount_off"])
            invoice["total_discount_amounts"] = [{"amount": discount, "discount": "di_test"}]
        subtotal_after = subtotal - discount
        tax = 0
        if invoice["automatic_tax"]["enabled"]:
            country = (invoice.get("customer_address") or {}).get("country") or ""
            tax = round(subtotal_after * TAX_RATES.get(country, 0) / 100)
            invoice["automatic_tax"]["status"] = "complete"
        invoice["subtotal"] = subtotal
        invoice["total_taxes"] = (
            [{"amount": tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated"}]
            if tax
            else []
        )
        invoice["total"] = invoice["amount_due"] = invoice["amount_remaining"] = (
            subtotal_after + tax
        )

    def invoice_finalize(self, invoice: dict, params: dict | None = None) -> dict:
        with self.lock:
            if invoice["status"] != "draft":
                raise base.StripeError(
                    400, f"This invoice is already finalized (status {invoice['status']})."
                )
            self.invoice_counter += 1
            now = int(time.time())
            invoice.update(
                status="open",
                number=f"TEST{self.invoice_counter:04d}-0001",
                hosted_invoice_url=f"{self.base_url}/invoice/{invoice['id']}",
                invoice_pdf=f"{self.base_url}/invoice/{invoice['id']}/pdf",
            )
            invoice["status_transitions"]["finalized_at"] = now
            if invoice["collection_method"] == "send_invoice":
                invoice["due_date"] = now + 86400 * (invoice["days_until_due"] or 30)
        self.event_emit("invoice.finalized", self.invoice_public(invoice), True, background=True)
        return self.invoice_public(invoice)

    def invoice_send(self, invoice: dict, params: dict | None = None) -> dict:
        if invoice["status"] != "open" or invoice["collection_method"] != "send_invoice":
            raise base.StripeError(400, "Only open send_invoice invoices can be sent.")
        invoice["_sent"] += 1  # Stripe emails the hosted invoice link to the customer
        return self.invoice_public(invoice)

    def invoice_pay(self, invoice: dict, params: dict) -> dict:
        """`paid_out_of_band=true`: staff record a payment made outside Stripe; otherwise
        Stripe would charge a payment method, which a bank-transfer invoice has none of."""
        if invoice["status"] != "open":
            raise base.StripeError(
                400, f"Invoice is already {invoice['status']}.", code="invoice_not_open"
            )
        if not base._truthy(params.get("paid_out_of_band")):
            raise base.StripeError(
                402,
                "The customer's cash balance does not cover this invoice.",
                type_="card_error",
                code="invoice_payment_intent_requires_action",
            )
        self._invoice_mark_paid(invoice)
        public = self.invoice_public(invoice)
        self.event_emit("invoice.paid", public, True, background=True)
        return public

    def _invoice_mark_paid(self, invoice: dict) -> None:
        with self.lock:
            invoice.update(status="paid", amount_paid=invoice["total"], amount_remaining=0)
            invoice["status_transitions"]["paid_at"] = int(time.time())

    def invoice_void(self, invoice: dict, params: dict | None = None) -> dict:
        if invoice["status"] not in ("open", "uncollectible"):
            raise base.StripeError(
                400, f"You can only void open invoices (this one is {invoice['status']})."
            )
        with self.lock:
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = int(time.time())
        public = self.invoice_public(invoice)
        self.event_emit("invoice.voided", public, True, background=True)
        return public

    # --- What the buyer and time do (test helpers) --------------------------------------

    def invoice_pay_bank_transfer(self, invoice_id: str, *, deliver: bool = True) -> dict:
        """The buyer's transfer arrives and is reconciled to the invoice: a PaymentIntent
        paid from the cash balance (a `customer_balance` PaymentMethod) with its charge, the
        invoice `paid`, and `invoice.paid` sent. Returns the event."""
        invoice = self.invoices[invoice_id]
        if invoice["status"] != "open":
            raise base.StripeError(400, f"Invoice is {invoice['status']}.")
        with self.lock:
            intent = {
                "id": base._new_id("pi"),
                "object": "payment_intent",
                "amount": invoice["total"],
                "currency": invoice["currency"],
                "metadata": dict(invoice["metadata"]),
                "status": "requires_payment_method",
                "latest_charge": None,
                "payment_method": self._payment_method_create("customer_balance", {})["id"],
                "payment_method_types": ["customer_balance"],
            }
            self.payment_intents[intent["id"]] = intent
            self._charge_succeed(intent)
            invoice["_payment_intent"] = intent["id"]
            self._invoice_mark_paid(invoice)
        return self.event_emit(
            "invoice.paid", self.invoice_public(invoice, {"expand": ["payments"]}), deliver
        )

    def invoice_overdue(self, invoice_id: str, *, days: int = 3, deliver: bool = True) -> dict:
        """The due date passed `days` ago unpaid: Stripe sends `invoice.overdue`."""
        invoice = self.invoices[invoice_id]
        with self.lock:
            invoice["due_date"] = int(time.time()) - days * 86400
        return self.event_emit("invoice.overdue", self.invoice_public(invoice), deliver)

    def invoice_event(self, invoice_id: str, type_: str, *, deliver: bool = False) -> dict:
        """Any invoice event (e.g. `invoice.paid` again) for the invoice as it stands."""
        public = self.invoice_public(self.invoices[invoice_id], {"expand": ["payments"]})
        return self.event_emit(type_, public, deliver)

    # --- Credit notes ---------------------------------------------------------------------

    def credit_note_create(self, params: dict) -> dict:
        invoice = self._billing_get(self.invoices, params.get("invoice") or "", "invoice")
        if invoice["status"] not in ("open", "paid"):
            raise base.StripeError(
                400, f"Credit notes need an open or paid invoice ({invoice['status']})."
            )
        amount = int(params.get("amount") or invoice["total"])
        creditable = invoice["total"] - invoice["post_payment_credit_notes_amount"]
        if amount > creditable:
            raise base.StripeError(400, f"The credit note amount exceeds {creditable}.")
        linked = [self._credit_note_refund(r) for r in params.get("refunds") or []]
        refund_amount = int(params.get("refund_amount") or 0)
        if refund_amount:
            if not invoice["_payment_intent"]:
                raise base.StripeError(400, "This invoice has no payment to refund.")
            refund = self.refund_create(
                {"payment_intent": invoice["_payment_intent"], "amount": refund_amount}
            )
            linked.append({"refund": refund["id"], "amount_refunded": refund_amount})
        parts = (
            refund_amount
            + sum(r["amount_refunded"] for r in linked if r["refund"] and not refund_amount)
            + int(params.get("out_of_band_amount") or 0)
            + int(params.get("credit_amount") or 0)
        )
        if invoice["status"] == "paid" and parts != amount:
            raise base.StripeError(
                400,
                "The sum of refunds, credit and out of band amounts must equal the credit "
                f"note amount ({parts} != {amount}).",
            )
        with self.lock:
            invoice["post_payment_credit_notes_amount"] += amount
            count = sum(1 for c in self.credit_notes.values() if c["invoice"] == invoice["id"])
            note = {
                "id": base._new_id("cn"),
                "object": "credit_note",
                "amount": amount,
                "created": int(time.time()),
                "currency": invoice["currency"],
                "customer": invoice["customer"],
                "invoice": invoice["id"],
                "memo": params.get("memo"),
                "metadata": params.get("metadata") or {},
                "number": f"{invoice['number']}-CN-{count + 1:02d}",
                "out_of_band_amount": int(params.get("out_of_band_amount") or 0) or None,
                "pdf": f"{self.base_url}/invoice/{invoice['id']}/pdf",
                "reason": params.get("reason"),
                "refunds": [
                    {"refund": r["refund"], "amount_refunded": r["amount_refunded"]} for r in linked
                ],
                "status": "issued",
                "total": amount,
                "type": "post_payment" if invoice["status"] == "paid" else "pre_payment",
            }
            self.credit_notes[note["id"]] = note
        return dict(note)

    def _credit_note_refund(self, entry: dict) -> dict:
        refund = self.refunds.get(entry.get("refund") or "")
        if refund is None:
            raise base.StripeError(400, f"No such refund: '{entry.get('refund')}'", param="refunds")
        return {
            "refund": refund["id"],
            "amount_refunded": int(entry.get("amount_refunded") or refund["amount"]),
        }

    # --- Checkout for companies -----------------------------------------------------------

    def session_billing_init(self, session: dict, params: dict) -> None:
        """Remember what the session asks Checkout to collect and create."""
        session.update(
            automatic_tax={
                "enabled": base._truthy((params.get("automatic_tax") or {}).get("enabled")),
                "status": None,
            },
            billing_address_collection=params.get("billing_address_collection"),
            customer=None,
            customer_creation=params.get("customer_creation"),
            invoice=None,
            invoice_creation={
                "enabled": base._truthy((params.get("invoice_creation") or {}).get("enabled")),
                "invoice_data": (params.get("invoice_creation") or {}).get("invoice_data") or {},
            },
            tax_id_collection={
                "enabled": base._truthy((params.get("tax_id_collection") or {}).get("enabled"))
            },
        )

    def session_billing_complete(self, session: dict, *, tax_id=None, country: str = "") -> None:
        """What the buyer typed on the payment page: billing address (country), tax ID; then
        Stripe Tax's amount, and the Customer Checkout creates. Call under the lock, before
        the PaymentIntent (its amount includes the tax)."""
        if session["billing_address_collection"] == "required" and not country:
            country = "US"
        tax_ids = []
        if tax_id and session["tax_id_collection"]["enabled"]:
            kind, value = tax_id
            tax_ids = [{"type": kind, "value": value}]
        session["customer_details"] = {
            "address": {"country": country or None},
            "email": session["customer_email"],
            "name": None,
            "tax_exempt": "none",
            "tax_ids": tax_ids,
        }
        if session["automatic_tax"]["enabled"]:
            taxable = session["amount_subtotal"] - session["total_details"]["amount_discount"]
            tax = round(taxable * TAX_RATES.get(country, 0) / 100)
            session["total_details"]["amount_tax"] = tax
            session["amount_total"] = taxable + tax
            session["automatic_tax"]["status"] = "complete"
        if session["customer_creation"] == "always" or session["invoice_creation"]["enabled"]:
            customer = self.customer_create(
                {
                    "email": session["customer_email"],
                    "address": {"country": country} if country else None,
                    "tax_id_data": tax_ids,
                }
            )
            session["customer"] = customer["id"]

    def session_invoice_create(self, session: dict) -> None:
        """Checkout's invoice_creation: once the session is paid, a paid invoice for it."""
        if not session["invoice_creation"]["enabled"] or session["invoice"]:
            return
        if session["payment_status"] not in ("paid", "no_payment_required"):
            return
        data = session["invoice_creation"]["invoice_data"]
        invoice = self._invoice_new(
            customer=self.customers[session["customer"]],
            currency=session["currency"],
            collection_method="charge_automatically",
            metadata=data.get("metadata") or {},
            automatic_tax=False,
        )
        for item in session["_line_items"]:
            price = item["price_data"]
            invoice["lines"]["data"].append(
                {
                    "id": base._new_id("il"),
                    "object": "line_item",
                    "amount": int(price["unit_amount"]) * int(item.get("quantity") or 1),
                    "currency": price["currency"],
                    "description": price["product_data"]["name"],
                }
            )
        self._invoice_total(invoice)
        tax = session["total_details"]["amount_tax"]
        if tax:
            invoice["total_taxes"] = [{"amount": tax, "tax_behavior": "exclusive"}]
        discount = session["total_details"]["amount_discount"]
        if discount:
            invoice["total_discount_amounts"] = [{"amount": discount, "discount": "di_test"}]
        invoice["total"] = session["amount_total"]
        invoice["custom_fields"] = data.get("custom_fields") or None
        invoice["description"] = data.get("description")
        self.invoice_finalize(invoice)
        invoice["_payment_intent"] = session["payment_intent"]
        self._invoice_mark_paid(invoice)
        session["invoice"] = invoice["id"]

    @staticmethod
    def pay_page_billing_fields(session: dict) -> str:
        """The payment page's billing address country and (when collected) tax ID inputs."""
        fields = ""
        if session.get("billing_address_collection"):
            fields += '<p><label>Country <input name="country" id="country"></label></p>'
        if (session.get("tax_id_collection") or {}).get("enabled"):
            fields += '<p><label>VAT ID <input name="tax_id" id="tax-id"></label></p>'
        return fields

    # --- The hosted invoice page ----------------------------------------------------------

    def invoice_page(self, invoice_id: str) -> str:
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice["status"] == "draft":
            return "<h1>No such invoice</h1>"
        amount = invoice["total"]
        major = amount if invoice["currency"] in base.ZERO_DECIMAL else amount / 100
        due = time.strftime("%d %B %Y", time.gmtime(invoice["due_date"] or time.time()))
        action = (
            '<form method="post"><button type="submit" id="pay-transfer">'
            "Send the bank transfer</button></form>"
            if invoice["status"] == "open"
            else ""
        )
        return f"""<!doctype html><html><head><title>Invoice — test Stripe</title></head><body>
<h1>Invoice {html.escape(invoice["number"] or "")}</h1>
<p id="status">{invoice["status"]}</p>
<p id="amount">{invoice["currency"].upper()} {major:,.2f}</p><p id="due">Due {due}</p>
<p>Pay by bank transfer to IBAN DE00 TEST 0000 0000 0000 00, reference {html.escape(invoice["number"] or "")}.</p>
{action}</body></html>"""

"""Orders and what hangs off them: the Stripe events that move them, the timeline staff read,
the stamped deliverable, and the expiring download links with their log.

An order is created by us, as `pending`, before any Stripe call; Stripe only ever confirms
(or refunds, or disputes) it. Money is a snapshot on the order: later price changes in the
catalogue never alter what a buyer agreed to pay.

The tables keep the names they had when these models lived in the catalogue app
(`reports_order`, …): orders/migrations/0001 moved the models without touching a row."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from contacts.models import Attribution, Contact
from reports.models import Licence, Report


class OrderReferenceCounter(models.Model):
    """One row per year; incremented with an UPDATE inside the order's transaction, so two
    concurrent orders can't take the same number (the row lock serialises them)."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "reports_orderreferencecounter"

    def __str__(self):
        return f"{self.year}: {self.last_value}"


class Order(Attribution):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PAID = "paid", "Paid (preparing the report)"
        FULFILLED = "fulfilled", "Fulfilled"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"
        FAILED = "failed", "Payment failed"
        # Left unpaid: its Checkout Session expired, or it never reached Checkout
        # (orders/services/fulfilment.py; recovery: orders/services/recovery.py).
        ABANDONED = "abandoned", "Abandoned at checkout"
        CANCELLED = "cancelled", "Cancelled (invoice voided)"

    class PaymentRoute(models.TextChoices):
        CHECKOUT = "checkout", "Stripe Checkout (card and other methods)"
        INVOICE = "invoice", "Invoice, paid by bank transfer"

    class PriceSource(models.TextChoices):
        LIST = "list", "List price"
        QUOTE = "quote", "Special-price quote"

    reference = models.CharField(max_length=32, unique=True, editable=False)
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="orders")
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="orders")
    # Snapshots: what the buyer saw and agreed to, whatever the catalogue says later.
    licence_kind = models.CharField(max_length=12, choices=Licence.Kind.choices)
    licence_name = models.CharField(max_length=60)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    price_source = models.CharField(
        max_length=8, choices=PriceSource.choices, default=PriceSource.LIST
    )
    promotion_code = models.CharField(
        max_length=64, blank=True, help_text="The code the buyer typed on our purchase page."
    )
    stripe_promotion_code_id = models.CharField(max_length=255, blank=True)

    buyer_email = models.EmailField()
    buyer_name = models.CharField(max_length=150)
    buyer_company = models.CharField(max_length=200)
    buyer_vat_id = models.CharField("buyer VAT ID", max_length=20, blank=True)
    # The terms of sale the buyer accepted at checkout (pages.PageVersion, never edited once
    # published): the receipt links to exactly this version.
    terms_version = models.ForeignKey(
        "pages.PageVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="terms of sale accepted",
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    payment_route = models.CharField(
        max_length=10, choices=PaymentRoute.choices, default=PaymentRoute.CHECKOUT
    )
    stripe_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_session_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_payment_status = models.CharField(
        max_length=30, blank=True, help_text="The Checkout Session's payment_status, as last seen."
    )
    # How the buyer paid, as Stripe reported it when the order was paid
    # (orders/services/payment_methods.py): Stripe's PaymentMethod type and in words.
    payment_method_type = models.CharField(
        max_length=40, blank=True, help_text="Stripe's PaymentMethod type (card, sepa_debit, …)."
    )
    payment_method_description = models.CharField(
        "payment method", max_length=200, blank=True, help_text="As the receipt names it."
    )
    # Bumped when Stripe answered a create call with an error: its idempotency layer stores
    # that answer under the key, so the buyer's retry needs a fresh key. A timeout keeps the
    # key, so a retry returns the session Stripe may already have made.
    checkout_attempts = models.PositiveSmallIntegerField(default=0)
    refund_attempts = models.PositiveSmallIntegerField(default=0)

    amount_subtotal = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    amount_discount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    amount_paid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    amount_tax = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="As Stripe Tax computed it.",
    )
    amount_refunded = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    stripe_refund_id = models.CharField(max_length=255, blank=True)

    # Billing (orders/services/invoices.py). The tax ID the buyer gave Stripe (Checkout's
    # tax_id_collection), which may differ from the VAT ID typed on our form.
    tax_id_type = models.CharField(max_length=20, blank=True, help_text="Stripe's type (eu_vat…)")
    tax_id_value = models.CharField("tax ID", max_length=40, blank=True)
    billing_country = models.CharField(max_length=2, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    # The Stripe invoice: made by Checkout (invoice_creation) for a card order, or sent to
    # the buyer to pay by bank transfer (payment_route "invoice").
    stripe_invoice_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_invoice_item_id = models.CharField(max_length=255, blank=True)
    stripe_invoice_number = models.CharField("invoice number", max_length=64, blank=True)
    stripe_invoice_url = models.URLField("hosted invoice page", max_length=2000, blank=True)
    stripe_invoice_pdf = models.URLField("invoice PDF", max_length=2000, blank=True)
    invoice_status = models.CharField(
        max_length=20, blank=True, help_text="The Stripe invoice's status, as last seen."
    )
    invoice_due_at = models.DateTimeField(null=True, blank=True)
    invoice_sent_at = models.DateTimeField(null=True, blank=True)
    invoice_overdue_at = models.DateTimeField(null=True, blank=True)
    # Bumped when Stripe answered an invoice call with an error (see checkout_attempts).
    invoice_attempts = models.PositiveSmallIntegerField(default=0)
    stripe_credit_note_id = models.CharField(max_length=255, blank=True)
    stripe_credit_note_number = models.CharField("credit note number", max_length=64, blank=True)

    amount_mismatch = models.BooleanField(
        default=False, help_text="Stripe reported an amount or currency this order did not expect."
    )
    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_note = models.CharField(max_length=500, blank=True)

    # Why preparing the buyer's report failed for good (its "order.deliverable" job holds the
    # attempts and each retry's error).
    deliverable_error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the payment failed or the checkout was abandoned."
    )

    # Abandoned checkouts (orders/services/recovery.py): what Stripe said when the session
    # expired — its recovery link and whether the buyer agreed to promotional email on
    # Checkout's page (`consent.promotions`) — and whether they came back and paid.
    # https://docs.stripe.com/payments/checkout/abandoned-carts
    abandoned_session_id = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The Checkout Session that expired."
    )
    recovery_url = models.URLField(max_length=2000, blank=True)
    recovery_expires_at = models.DateTimeField(null=True, blank=True)
    promotions_consent = models.CharField(
        max_length=10,
        blank=True,
        help_text="Stripe Checkout's promotional-email consent: opt_in, opt_out or empty.",
    )
    recovered_at = models.DateTimeField(
        null=True, blank=True, help_text="Paid through Stripe's recovery link after abandoning."
    )

    class Meta:
        db_table = "reports_order"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="order_price_positive"),
        ]
        permissions = [
            ("refund_order", "Can refund orders in Stripe"),
            ("settle_invoice", "Can mark invoices paid out of band or void them"),
        ]

    def __str__(self):
        return self.reference

    def get_absolute_url(self):
        return reverse("orders:purchase-complete", kwargs={"reference": self.reference})

    @property
    def access_revoked(self) -> bool:
        return self.status in (self.Status.REFUNDED, self.Status.DISPUTED)


class OrderEvent(models.Model):
    """The order's timeline: what happened, when, caused by which Stripe event or staff user."""

    class Kind(models.TextChoices):
        CREATED = "created", "Order created"
        CHECKOUT_STARTED = "checkout_started", "Checkout started"
        CHECKOUT_ERROR = "checkout_error", "Checkout could not start"
        PAYMENT_PROCESSING = "payment_processing", "Payment processing"
        PAID = "paid", "Paid"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
        DELIVERABLE_READY = "deliverable_ready", "Report prepared and link sent"
        DELIVERABLE_ERROR = "deliverable_error", "Report preparation failed"
        LINK_ISSUED = "link_issued", "New download link sent"
        LINK_EXTENDED = "link_extended", "Download link extended"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        EXPIRED = "expired", "Checkout expired"
        RECOVERY_REMINDER = "recovery_reminder", "Checkout reminder"
        RECOVERED = "recovered", "Recovered through the reminder link"
        REFUND_REQUESTED = "refund_requested", "Refund requested"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        DISPUTED = "disputed", "Disputed"
        INVOICE_SENT = "invoice_sent", "Invoice sent"
        INVOICE_ERROR = "invoice_error", "Invoice could not be sent"
        INVOICE_OVERDUE = "invoice_overdue", "Invoice overdue"
        INVOICE_VOIDED = "invoice_voided", "Invoice voided"
        CREDIT_NOTE = "credit_note", "Credit note issued"
        DISPUTE_WON = "dispute_won", "Dispute won: access restored"
        NOTE = "note", "Note"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500, blank=True)
    stripe_event = models.ForeignKey(
        "StripeEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reports_orderevent"
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.get_kind_display()


class StripeEvent(models.Model):
    """A webhook event, stored once under Stripe's id (the unique constraint, not a lookup,
    stops duplicates), with its "stripe.event" job in the same transaction: the stored
    payload is the job's durable input."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Stored, not handled"
        FAILED = "failed", "Failed"

    stripe_id = models.CharField("Stripe event id", max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=40, blank=True)
    stripe_created = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_events"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    result = models.CharField(max_length=500, blank=True)
    # Why processing failed for good (the job holds the attempts and each retry's error).
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "reports_stripeevent"
        ordering = ["-received_at"]
        verbose_name = "Stripe event"

    def __str__(self):
        return f"{self.type} {self.stripe_id}"

    @property
    def data_object(self) -> dict:
        return self.payload.get("data", {}).get("object", {})


class Deliverable(models.Model):
    """The buyer's stamped copy of the full report, in the private storage."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="deliverable")
    path = models.CharField(max_length=500, help_text='A path in storages["private"].')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reports_deliverable"

    def __str__(self):
        return self.path


class DownloadLink(models.Model):
    """A link emailed to the buyer. The URL carries a signed token whose secret is an HMAC
    (SECRET_KEY) of a random seed; the seed and the secret's SHA-256 are stored, so the
    database alone (or a backup) can't produce a working link, and the mail worker can
    build it again at send time (reports/services/downloads.py)."""

    class RevokeReason(models.TextChoices):
        REFUNDED = "refunded", "The order was refunded"
        DISPUTED = "disputed", "The payment is disputed"
        SUPERSEDED = "superseded", "Replaced by a newer link"
        STAFF = "staff", "Withdrawn by staff"
        REASSIGNED = "reassigned", "The seat was given to someone else"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="download_links")
    # A named seat's link (its own stamped copy, emailed to the seat holder); empty for the
    # buyer's own link.
    seat = models.ForeignKey(
        "Seat", null=True, blank=True, on_delete=models.CASCADE, related_name="download_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    # Empty for links made before the mail log stopped storing them (those can't be rebuilt).
    token_seed = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    max_downloads = models.PositiveSmallIntegerField()
    download_count = models.PositiveSmallIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=12, choices=RevokeReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reports_downloadlink"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Link {self.pk}"


class DownloadLog(models.Model):
    # Empty once the link itself is purged (DOWNLOAD_LINK_PURGE_AFTER_DAYS): the log stays.
    link = models.ForeignKey(
        DownloadLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="downloads"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="downloads")
    downloaded_at = models.DateTimeField(auto_now_add=True)
    ip = models.CharField("IP (truncated)", max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "reports_downloadlog"
        ordering = ["-downloaded_at"]

    def __str__(self):
        return f"{self.order_id} at {self.downloaded_at:%Y-%m-%d %H:%M}"


class Seat(models.Model):
    """A named user of a multi-user or enterprise licence (orders/services/seats.py). The
    buyer's own copy is seat 1; colleagues the buyer names hold seats 2 and up, each with a
    copy stamped with their name and a download link of their own. Reassigning a seat
    releases this row (its links stop) and makes a new one with the same number."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="seats")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=150)
    email = models.EmailField()
    path = models.CharField(
        max_length=500, blank=True, help_text='The stamped copy: a path in storages["private"].'
    )
    error = models.TextField(blank=True, help_text="Why preparing the copy failed for good.")
    created_at = models.DateTimeField(auto_now_add=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the seat was given to someone else."
    )

    class Meta:
        ordering = ["order", "number", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "number"],
                condition=models.Q(released_at__isnull=True),
                name="uniq_held_seat_number",
            ),
            models.CheckConstraint(condition=models.Q(number__gte=2), name="seat_number_from_2"),
        ]

    def __str__(self):
        return f"{self.order_id} seat {self.number}: {self.name}"


class Dispute(models.Model):
    """A Stripe dispute on an order's payment, as last seen (a webhook event or
    reconciliation). The order's access follows all its disputes (orders/services/refunds.py):
    withdrawn while any is open or lost, restored when every one is won. `seen_at` is when
    Stripe reported this status (the event's time): an older report never overwrites a newer
    one, so a lost dispute reopened and then won stays won whatever order events arrive in."""

    stripe_id = models.CharField("Stripe dispute id", max_length=255, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="disputes")
    status = models.CharField(max_length=30)
    reason = models.CharField(max_length=60, blank=True)
    seen_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self):
        return f"{self.stripe_id} ({self.status})"


class EditionNotice(models.Model):
    """One person told about one new edition of a report they bought
    (orders/services/editions.py): the buyer of a recent order and each of its held seats
    get a freshly stamped copy of the edition (`copy`); the buyer of an older order gets an
    upgrade offer at the edition's discount (`offer`), a quote link to the purchase page.

    The unique constraint is what makes "each person told once" true: a second run of the
    job, a second publish of the same edition or two workers at once find the row there and
    do nothing. `sent_at` is set in the transaction that queues the email."""

    class Kind(models.TextChoices):
        COPY = "copy", "New edition sent"
        OFFER = "offer", "Upgrade offer sent"

    edition = models.ForeignKey(
        "reports.ReportEdition", on_delete=models.CASCADE, related_name="notices"
    )
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="edition_notices")
    # Empty for the buyer's own notice; a named seat's notice otherwise.
    seat = models.ForeignKey(
        "Seat", null=True, blank=True, on_delete=models.CASCADE, related_name="edition_notices"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    # An offer's terms (the quote link names this row; its terms are read from here).
    licence = models.ForeignKey(
        Licence, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    offer_currency = models.CharField(max_length=3, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    skipped = models.CharField(
        max_length=200, blank=True, help_text="Why nothing was sent (access withdrawn meanwhile)."
    )
    error = models.TextField(blank=True, help_text="Why preparing the copy failed for good.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # One notice per person per edition: the buyer (no seat) once per order, each seat
        # once. Two partial constraints rather than nulls_distinct=False, which SQLite
        # (`make run`) does not enforce.
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "order"],
                condition=models.Q(seat__isnull=True),
                name="uniq_edition_notice_per_buyer",
            ),
            models.UniqueConstraint(
                fields=["edition", "order", "seat"],
                condition=models.Q(seat__isnull=False),
                name="uniq_edition_notice_per_seat",
            ),
        ]

    def __str__(self):
        who = f"seat {self.seat.number}" if self.seat_id else "buyer"
        return f"{self.order_id} {who}: {self.get_kind_display()}"

    @property
    def email(self) -> str:
        return self.seat.email if self.seat_id else self.order.buyer_email

    @property
    def name(self) -> str:
        return self.seat.name if self.seat_id else self.order.buyer_name

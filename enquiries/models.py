"""Leads: sample requests, pre-order enquiries with their staff replies, and the canned reply
templates. The people they come from and the emails they send live in contacts/."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from contacts.models import ATTRIBUTION_DETAIL_FIELDS, Attribution, Contact, OutboundEmail

# The consent wording a lead agreed to; a new wording gets a new version, kept on each lead.
CONSENT_VERSION = "2025-03"
CONSENT_TEXT = (
    "I agree that {publisher} may store these details and email me about this report, "
    "as described in the privacy notice."
)


# =========================================================================================
# Pre-order enquiries, staff replies and canned reply templates (issue 5).
# Kept together at the end of the module so other lead models can be added above.
# =========================================================================================


class ReplyTemplate(models.Model):
    """An editable canned reply. Subject and body may use the placeholders listed in
    PLACEHOLDERS; anything else in braces is left as written."""

    PLACEHOLDERS = (
        "name",
        "first_name",
        "company",
        "report",
        "report_number",
        "licence",
        "staff_name",
        "publisher",
    )

    name = models.CharField(max_length=100, unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(
        help_text="Placeholders: {name}, {first_name}, {company}, {report}, {report_number}, "
        "{licence}, {staff_name}, {publisher}. Purchase and quote links are added below the "
        "text automatically."
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Enquiry(Attribution):
    """A pre-order enquiry (a lead with a question), answered by sales from the admin inbox.
    Every change of status or owner is kept in `history` with who and when."""

    class Type(models.TextChoices):
        PRE_ORDER = "pre_order", "Pre-order"
        PRICING = "pricing", "Pricing"
        LICENCE = "licence", "Licence question"
        CUSTOMISATION = "customisation", "Customisation"
        INVOICE = "invoice", "Buy by invoice / purchase order"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        ANSWERED = "answered", "Answered"
        WAITING = "waiting", "Waiting on customer"
        # The customer answered by email (enquiries/services/inbound.py): waiting for us again,
        # with the response-time clock started at their reply (`customer_replied_at`).
        REPLIED = "replied", "Customer replied"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        SPAM = "spam", "Spam"

    # Waiting for our first answer: these count against the response-time promise.
    AWAITING_ANSWER = (Status.NEW, Status.ASSIGNED)

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="enquiries")
    report = models.ForeignKey("reports.Report", on_delete=models.PROTECT, related_name="enquiries")
    type = models.CharField("enquiry type", max_length=16, choices=Type.choices)
    licence = models.ForeignKey(
        "reports.Licence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enquiries",
        help_text="The licence the visitor is interested in.",
    )
    question = models.TextField(max_length=5000)
    # What the visitor typed on this form. The contact keeps the details first given (a
    # public form can't overwrite them: anyone can type anyone's address).
    name = models.CharField("name as typed", max_length=150, blank=True, editable=False)
    company = models.CharField("company as typed", max_length=200, blank=True, editable=False)
    job_title = models.CharField("job title as typed", max_length=150, blank=True, editable=False)
    country = CountryField("country as typed", blank=True, editable=False)
    phone = PhoneNumberField("phone as typed", blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.NEW, db_index=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_enquiries",
    )
    # Whom the round-robin picked (never changed afterwards): the rotation's cursor, so a
    # manual reassignment doesn't skip anyone's turn.
    auto_assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    staff_notes = models.TextField("internal notes", blank=True)
    about_upcoming_report = models.BooleanField(
        default=False, editable=False, help_text="Asked while the report was not yet published."
    )
    is_free_mail = models.BooleanField("free-mail address", default=False, editable=False)
    ip = models.CharField("network (truncated IP)", max_length=45, blank=True, editable=False)
    user_agent = models.CharField(max_length=300, blank=True, editable=False)
    consent_version = models.CharField(max_length=20, editable=False)
    consent_at = models.DateTimeField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_response_at = models.DateTimeField(null=True, blank=True, editable=False)
    answered_at = models.DateTimeField("last answered", null=True, blank=True, editable=False)
    customer_replied_at = models.DateTimeField(
        "customer last replied", null=True, blank=True, editable=False
    )
    notified_on_publish_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=[
            "question",
            "user_agent",
            "ip",
            *ATTRIBUTION_DETAIL_FIELDS,
            "consent_version",
            "consent_at",
            "is_free_mail",
            "auto_assigned_to",
            "name",
            "company",
            "job_title",
            "country",
            "phone",
        ]
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "enquiries"
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self):
        return f"{self.reference} {self.contact.name} — {self.get_type_display()}"

    def clean(self):
        if self.licence_id and self.report_id and self.licence.report_id != self.report_id:
            raise ValidationError({"licence": "This licence belongs to another report."})

    @property
    def reference(self) -> str:
        return f"ENQ-{self.pk:06d}" if self.pk else "ENQ-new"


class EnquiryReply(models.Model):
    """A staff answer, sent by email through the mail log. `email` is the OutboundEmail row,
    which carries the delivery status shown in the thread."""

    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing the sample"
        QUEUED = "queued", "Handed to the mail log"
        FAILED = "failed", "Failed"

    enquiry = models.ForeignKey(Enquiry, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    template = models.ForeignKey(
        ReplyTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=20000)
    attach_sample = models.BooleanField(default=False)
    sample_path = models.CharField(
        max_length=500, blank=True, help_text="The stamped copy in private storage."
    )
    licence = models.ForeignKey(
        "reports.Licence", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    quoted_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    quoted_currency = models.CharField(max_length=3, blank=True)
    purchase_url = models.CharField(max_length=2000, blank=True)
    # A special-price link withdrawn by staff stops working at once (before its expiry).
    quote_revoked_at = models.DateTimeField(null=True, blank=True)
    quote_revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.OneToOneField(
        OutboundEmail,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="enquiry_reply",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PREPARING, db_index=True
    )
    # Why preparing it failed for good (its "reply.prepare" job holds the attempts).
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "enquiry replies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quoted_price__isnull=True) | models.Q(quoted_price__gt=0),
                name="enquiry_reply_quoted_price_positive",
            ),
        ]

    def __str__(self):
        return self.subject

    @property
    def list_price(self):
        """The licence's list price in the reply's currency (its emails show it)."""
        if self.licence is None:
            return None
        return self.licence.price_in(self.quoted_currency or settings.DEFAULT_CURRENCY)

    @property
    def list_currency(self) -> str:
        return self.quoted_currency or settings.DEFAULT_CURRENCY


# --- Sample requests (issue 4) ------------------------------------------------------------


def sample_public_token() -> str:
    """The secret in a sample request's status URL: 192 random bits, unguessable."""
    return secrets.token_urlsafe(24)


class SampleRequest(Attribution):
    """One request for a report's free sample: the lead, stamped with the visitor's name by
    its "sample.prepare" job and then emailed (received → pdf_ready → emailed, or failed)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PDF_READY = "pdf_ready", "PDF ready"
        EMAILED = "emailed", "Emailed"
        FAILED = "failed", "Failed"

    public_token = models.CharField(
        max_length=64, unique=True, default=sample_public_token, editable=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="sample_requests")
    report = models.ForeignKey(
        "reports.Report", on_delete=models.PROTECT, related_name="sample_requests"
    )
    # What the visitor typed on this form (the contact keeps the latest details).
    email = models.EmailField()
    name = models.CharField(max_length=150)
    company = models.CharField(max_length=200)
    job_title = models.CharField(max_length=150, blank=True)
    country = CountryField(blank=True, db_index=True)
    phone = PhoneNumberField(blank=True)
    message = models.TextField(blank=True, max_length=2000)
    free_mail = models.BooleanField(
        "free-mail address", default=False, db_index=True, help_text="Gmail, Outlook.com, …"
    )
    ip = models.GenericIPAddressField(
        "network", null=True, blank=True, help_text="IPv4 /24 or IPv6 /48: never the full address."
    )
    user_agent = models.CharField(max_length=400, blank=True)
    consent_version = models.CharField(max_length=20)
    consent_at = models.DateTimeField()

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    error = models.TextField(blank=True)
    file_path = models.CharField(
        "stamped PDF", max_length=500, blank=True, help_text="In the private storage."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    pdf_ready_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Each later send of the same stamped copy (the visitor asking again, or staff).
    resend_count = models.PositiveSmallIntegerField(default=0)
    last_resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["contact", "report", "-created_at"]),
        ]

    def __str__(self):
        return f"Sample of {self.report.number} for {self.email}"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.PDF_READY)


# --- Customers' emails read from the inbound mailbox (issue 24) ----------------------------


def inbound_attachment_default() -> list:
    return []


class InboundEmail(models.Model):
    """One message read from the inbound mailbox (INBOUND_IMAP_URL), stored once per
    Message-ID: a customer's reply shown in its enquiry's thread, a delivery status
    notification (bounce), or a message held for staff to assign by hand.

    Only text is kept: an HTML-only message is converted to plain text (scripts, styles and
    markup dropped), so nothing a sender wrote runs in the admin. Attachments within
    INBOUND_MAX_ATTACHMENT_MB are in the private storage (`attachments`: name, content type,
    size, path); refused ones are listed with the reason (`refused_attachments`)."""

    class Status(models.TextChoices):
        MATCHED = "matched", "In the thread"
        UNMATCHED = "unmatched", "Unmatched: to assign"
        BOUNCE = "bounce", "Delivery report"
        REFUSED = "refused", "Refused"
        FOLLOW_UP = "followup", "Reply to a follow-up"

    class MatchedBy(models.TextChoices):
        ADDRESS = "address", "Thread address"
        HEADERS = "headers", "In-Reply-To / References"
        STAFF = "staff", "Assigned by staff"

    message_id = models.CharField(max_length=998, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    enquiry = models.ForeignKey(
        Enquiry,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="inbound_emails",
        help_text="The enquiry whose thread shows this message.",
    )
    follow_up = models.ForeignKey(
        "FollowUp",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        help_text="The sample follow-up this message answers (its sequence stopped).",
    )
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices, blank=True)
    # Why it was not matched (or refused): shown to staff in the unmatched list.
    problem = models.CharField(max_length=500, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to_addresses = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    # The new text of the reply (quoted history and signature trimmed), and the whole text.
    body_text = models.TextField(blank=True)
    full_text = models.TextField(blank=True)
    converted_from_html = models.BooleanField(default=False)
    automatic = models.BooleanField(
        default=False, help_text="An auto-reply (out of office): shown, but reopens nothing."
    )
    attachments = models.JSONField(default=inbound_attachment_default, blank=True)
    refused_attachments = models.JSONField(default=inbound_attachment_default, blank=True)
    size = models.PositiveIntegerField(default=0)
    # The delivery report's original email, marked bounced in the mail log.
    bounced_email = models.ForeignKey(
        OutboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The message's Date header.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound email"
        indexes = [models.Index(fields=["enquiry", "received_at"])]

    def __str__(self):
        return f"{self.subject or '(no subject)'} ← {self.from_address or 'unknown sender'}"


# --- Follow-ups after a sample (issue 25) -------------------------------------------------


class FollowUpStep(models.Model):
    """One email of the sequence sent after a sample, to people who ticked the marketing box.
    Subject and body are Django templates (see the admin's preview for the variables)."""

    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=100)
    delay_days = models.PositiveSmallIntegerField(
        help_text="Days after the sample request; sent in the person's working hours."
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    reply_to_sales = models.BooleanField(
        "reply-to the sales desk",
        default=False,
        help_text="Reply-To named as the sales desk. Replies reach it through the inbound "
        "mailbox when INBOUND_ADDRESS is set (and stop the sequence); without it they go to "
        "SALES_INBOX_EMAIL (unticked: to the site's From address).",
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "follow-up step"

    def __str__(self):
        return f"Day {self.delay_days}: {self.name}"


class FollowUp(models.Model):
    """The sequence running for one sample request. Stopped for good (with the reason) when
    the person enquires, buys, unsubscribes, replies to one of its emails or staff take the
    lead; every step sent or
    skipped is a FollowUpEvent."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Running"
        STOPPED = "stopped", "Stopped"
        FINISHED = "finished", "Finished"

    sample_request = models.OneToOneField(
        SampleRequest, on_delete=models.CASCADE, related_name="follow_up"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="follow_ups")
    started_at = models.DateTimeField(help_text="Step delays count from here.")
    next_position = models.PositiveSmallIntegerField(default=0, editable=False)
    # When the beat task looks at it next (the next step's day, moved into working hours).
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    stop_reason = models.CharField(max_length=300, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "sample follow-up"
        indexes = [models.Index(fields=["status", "next_due_at"])]

    def __str__(self):
        return f"Follow-up of sample request {self.sample_request_id}"


class FollowUpEvent(models.Model):
    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
        SKIPPED = "skipped", "Skipped"
        SUPPRESSED = "suppressed", "Suppressed at send time"
        STOPPED = "stopped", "Sequence stopped"
        REPLIED = "replied", "Replied"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="events")
    step = models.ForeignKey(
        FollowUpStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    email = models.ForeignKey(
        OutboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The person's reply (outcome "replied"), read from the inbound mailbox.
    inbound = models.ForeignKey(
        InboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.get_outcome_display()} {self.reason}".strip()

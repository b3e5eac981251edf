"""Leads: contacts (one per email address), the first-touch attribution every lead and order
records, and the log of every outbound email (the outbox the mail worker sends from)."""

import secrets
import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id")


class Contact(models.Model):
    email = models.EmailField(unique=True, help_text="Stored lower-cased: one contact per address.")
    name = models.CharField(max_length=150)
    company = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    country = CountryField(blank=True)
    phone = PhoneNumberField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class Attribution(models.Model):
    """First-touch marketing attribution, copied from the visitor's session (or the form
    page's query string) onto each lead and order."""

    utm_source = models.CharField(max_length=200, blank=True, db_index=True)
    utm_medium = models.CharField(max_length=200, blank=True, db_index=True)
    utm_campaign = models.CharField(max_length=200, blank=True, db_index=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    utm_id = models.CharField(max_length=200, blank=True)
    landing_page = models.CharField(max_length=2000, blank=True)
    referrer = models.CharField(max_length=2000, blank=True)

    class Meta:
        abstract = True


class OutboundEmail(models.Model):
    """One row per email the site sends. The row is written in the same transaction as the
    lead or order that causes it, so an email can't be lost even if the broker is down: the
    sweeper task re-dispatches rows still queued. Subject and bodies are rendered when the row
    is created, so a re-send is exactly what was first sent."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"

    to = models.EmailField(db_index=True)
    reply_to = models.CharField(max_length=254, blank=True)
    from_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=300)
    template = models.CharField(max_length=120, db_index=True)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # A file in the "private" storage attached to the message (a stamped sample PDF).
    attachment_path = models.CharField(max_length=500, blank=True)
    attachment_name = models.CharField(max_length=200, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails"
    )
    related_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    related_id = models.CharField(max_length=64, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    # Makes a send idempotent: one email per (purpose, object), e.g. "receipt:SMO-2026-000001".
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    message_id = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbound email"
        indexes = [models.Index(fields=["related_type", "related_id"])]

    def __str__(self):
        return f"{self.subject} → {self.to}"

    @staticmethod
    def new_message_id():
        return f"<{uuid.uuid4().hex}@smosite>"


# --- Sample requests (issue 4) ------------------------------------------------------------


def sample_public_token() -> str:
    """The secret in a sample request's status URL: 192 random bits, unguessable."""
    return secrets.token_urlsafe(24)


class SampleRequest(Attribution):
    """One request for a report's free sample: the lead, and the job that stamps the sample
    with the visitor's name and emails it. The row is committed before any task runs, so it
    is the durable intent: a sweeper re-dispatches requests the broker never got."""

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
    prepare_attempts = models.PositiveSmallIntegerField(default=0)
    # Set while a worker stamps the copy: a second run of the same task leaves it alone.
    stamping_since = models.DateTimeField(null=True, blank=True)
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
            models.Index(fields=["status", "updated_at"]),
        ]

    def __str__(self):
        return f"Sample of {self.report.number} for {self.email}"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.PDF_READY)

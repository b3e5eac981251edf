"""The people and what we send them: contacts (one per email address), the first-touch
attribution every lead and order records, and the log of every outbound email (the outbox the
mail worker sends from, contacts/services/outbox.py).

The tables keep their first names (`enquiries_contact`, `enquiries_outboundemail`): the models
moved here from the leads app without a copy (contacts/migrations/0001)."""

import uuid
from email.utils import parseaddr

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField


class Contact(models.Model):
    email = models.EmailField(unique=True, help_text="Stored lower-cased: one contact per address.")
    name = models.CharField(max_length=150)
    company = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    country = CountryField(blank=True)
    phone = PhoneNumberField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when staff erased the person's data (the row stays, anonymised, for the leads and
    # orders that point at it).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "enquiries_contact"
        ordering = ["-created_at"]
        permissions = [
            ("export_contact", "Can export a contact's personal data"),
            ("erase_contact", "Can erase a contact's personal data"),
        ]

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


# The attribution fields, named once (by the model above): the middleware reads the utm ones
# from the query string and the catalogue keeps them on its links; admin pages, CSV exports
# and the data export list them all. The campaign survives a person's erasure (it says which
# campaign brought a lead, not who); the details go, and the enquiry history leaves them out.
ATTRIBUTION_FIELDS = tuple(f.name for f in Attribution._meta.fields)
UTM_FIELDS = tuple(name for name in ATTRIBUTION_FIELDS if name.startswith("utm_"))
ATTRIBUTION_CAMPAIGN_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
ATTRIBUTION_DETAIL_FIELDS = tuple(
    name for name in ATTRIBUTION_FIELDS if name not in ATTRIBUTION_CAMPAIGN_FIELDS
)


class OutboundEmail(models.Model):
    """One row per email the site sends, written with its "mail.send" job in the same
    transaction as the lead or order that causes it, so an email can't be lost even if the
    broker is down (common/jobs.py). Subject and bodies are rendered when the row is created,
    so a re-send is exactly what was first sent."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The recipient's server reported it undeliverable after accepting it (a delivery
        # status notification read from the inbound mailbox).
        BOUNCED = "bounced", "Bounced"
        # A marketing email its person may no longer receive (unsubscribed, consent
        # withdrawn, erased) when its turn to be sent came: never sent, and why is in
        # `last_error` (contacts/services/marketing.py).
        SUPPRESSED = "suppressed", "Suppressed"

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
    # Blank for the emails a person's own action asks for (their sample, a receipt, a reply);
    # the purpose of a marketing email otherwise ("marketing", "alerts"): checked again at
    # send time and given List-Unsubscribe headers (contacts/services/marketing.py).
    purpose = models.CharField(max_length=30, blank=True, db_index=True)
    # Makes a send idempotent: one email per (purpose, object), e.g. "receipt:SMO-2026-000001".
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    message_id = models.CharField(max_length=200, unique=True)
    # Threading headers (RFC 5322 section 3.6.4): the message this one answers and the thread's
    # earlier Message-IDs, so the customer's mail client threads the answer and an inbound
    # reply can be matched by them.
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    # Why it failed for good (its "mail.send" job holds the attempts and each retry's error).
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    # Set when the bodies were dropped (MAIL_BODY_RETENTION_DAYS, or the person's data was
    # erased): the row stays as the record that an email was sent, and can't be re-sent.
    body_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "enquiries_outboundemail"
        ordering = ["-created_at"]
        verbose_name = "outbound email"
        indexes = [models.Index(fields=["related_type", "related_id"])]

    def __str__(self):
        return f"{self.subject} → {self.to}"

    @staticmethod
    def new_message_id():
        """A globally unique Message-ID on the sending domain (RFC 5322 section 3.6.4)."""
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "smosite"
        return f"<{uuid.uuid4().hex}@{domain}>"


class MarketingConsent(models.Model):
    """One change of a person's choice about marketing email, never overwritten: the latest
    row for a purpose (and topic) is the choice in force, the earlier ones its history. A
    grant records the words the person saw and where; a withdrawal records how (the
    preferences page, a one-click unsubscribe, staff)."""

    class Source(models.TextChoices):
        SAMPLE_FORM = "sample_form", "Sample request form"
        ENQUIRY_FORM = "enquiry_form", "Enquiry form"
        PURCHASE_FORM = "purchase_form", "Purchase form"
        CHECKOUT = "checkout", "Stripe Checkout"
        ALERT_CONFIRMATION = "alert_confirmation", "Alert confirmation link"
        PREFERENCES = "preferences", "Preferences page"
        ONE_CLICK = "one_click", "One-click unsubscribe"
        STAFF = "staff", "Staff"

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="marketing_consents"
    )
    # "marketing" (follow-ups, reminders: the tick box on each form) or "alerts" (new
    # reports in a category; `topic` names it).
    purpose = models.CharField(max_length=30, db_index=True)
    topic = models.CharField(max_length=120, blank=True)
    granted = models.BooleanField()
    wording = models.TextField(blank=True, help_text="The words the person agreed to.")
    version = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=30, choices=Source.choices)
    ip = models.CharField("network (truncated IP)", max_length=45, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["contact", "purpose", "-created_at"])]

    def __str__(self):
        verb = "granted" if self.granted else "withdrew"
        return f"{self.contact_id} {verb} {self.purpose} {self.topic}".strip()

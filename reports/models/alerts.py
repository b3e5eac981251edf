"""Alerts for new reports: a person asked to hear about new reports in a category."""

from django.db import models
from django.utils import timezone

from contacts.models import Contact

from .catalogue import Category


class AlertSubscription(models.Model):
    """One person, one category. Double opt-in: nothing is sent until `confirmed_at` (the
    link in the confirmation email was followed); `ended_at` when they unsubscribed. The
    consent history (words, times, how it ended) is in contacts' MarketingConsent rows."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="alerts")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="alerts")
    created_at = models.DateTimeField(default=timezone.now)
    requested_at = models.DateTimeField(default=timezone.now, help_text="The last sign-up.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The last digest that covered this category: the next lists reports published since.
    last_digest_at = models.DateTimeField(null=True, blank=True)
    ip = models.CharField("network (truncated IP)", max_length=45, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "category"], name="uniq_alert_per_category")
        ]

    def __str__(self):
        return f"{self.category} alert for contact {self.contact_id}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.ended_at is None

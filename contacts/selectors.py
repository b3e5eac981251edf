"""Reads about a contact's marketing: what they agreed to, and what we sent them."""

from .models import Contact, MarketingConsent, OutboundEmail


def contact_consent_history(*, contact: Contact):
    return MarketingConsent.objects.filter(contact=contact).order_by("-created_at", "-pk")


def contact_marketing_emails(*, contact: Contact):
    """Every marketing email queued for the person: sent, waiting, failed or suppressed."""
    return (
        OutboundEmail.objects.filter(contact=contact)
        .exclude(purpose="")
        .order_by("-created_at")
        .only("pk", "subject", "purpose", "status", "last_error", "created_at", "sent_at")
    )

"""Reads about one person's lead that other apps ask for through the hooks they offer."""

from contacts.models import Contact

from ..models import Lead


def lead_owner_email(contact: Contact) -> str:
    """The address of the staff member who owns the person's lead ("" without one): who hears
    of their reply to a sample follow-up (enquiries/services/followups.py)."""
    lead = Lead.objects.filter(contact=contact, owner__isnull=False).select_related("owner")
    lead = lead.first()
    return lead.owner.email if lead is not None else ""

from django.db import IntegrityError, transaction

from contacts.models import Contact

PROFILE_FIELDS = ("name", "company", "job_title", "country", "phone")


def contact_upsert(*, email: str, **profile) -> Contact:
    """One contact per email address (lower-cased). The first form fills the profile; a
    later one only fills what is still blank. Anyone can type anyone's address into a
    public form, so an anonymous post never changes a name or company we already have (they
    are stamped on samples staff send); each lead keeps what was typed on it, and staff
    correct the contact itself in admin.

    The contact comes back locked (SELECT … FOR UPDATE, or our own insert) until the
    caller's transaction ends."""
    email = email.strip().lower()
    values = {k: v for k, v in profile.items() if k in PROFILE_FIELDS and v}
    try:
        with transaction.atomic():
            contact, created = Contact.objects.select_for_update().get_or_create(
                email=email, defaults=values
            )
    except IntegrityError:  # a concurrent request created it first
        contact, created = Contact.objects.select_for_update().get(email=email), False
    blanks = {k: v for k, v in values.items() if not created and not getattr(contact, k)}
    if blanks:
        for field, value in blanks.items():
            setattr(contact, field, value)
        contact.full_clean()
        contact.save()
    return contact

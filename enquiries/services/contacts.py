from django.db import IntegrityError, transaction

from ..models import Contact

PROFILE_FIELDS = ("name", "company", "job_title", "country", "phone")


def contact_upsert(*, email: str, **profile) -> Contact:
    """One contact per email address (lower-cased). A newer form's details update the
    contact's profile; blank values never erase what we knew."""
    email = email.strip().lower()
    updates = {k: v for k, v in profile.items() if k in PROFILE_FIELDS and v}
    try:
        with transaction.atomic():
            contact, created = Contact.objects.select_for_update().get_or_create(
                email=email, defaults=updates
            )
    except IntegrityError:  # a concurrent request created it first
        contact, created = Contact.objects.get(email=email), False
    if not created and updates:
        for field, value in updates.items():
            setattr(contact, field, value)
        contact.full_clean()
        contact.save()
    return contact

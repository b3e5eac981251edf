from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import PageVersion


@transaction.atomic
def page_version_create(*, page: str, title: str, body: str, user=None) -> PageVersion:
    """A new draft: the page's next number. Locks the page's versions so two staff members
    saving at once get two numbers, not one constraint error."""
    list(PageVersion.objects.select_for_update().filter(page=page).values_list("pk"))
    last = PageVersion.objects.filter(page=page).aggregate(n=Max("number"))["n"] or 0
    version = PageVersion(page=page, number=last + 1, title=title, body=body, created_by=user)
    version.full_clean()
    version.save()
    return version


@transaction.atomic
def page_version_publish(*, version: PageVersion) -> PageVersion:
    """Make the draft the page's current version; earlier versions stay as they were."""
    version = PageVersion.objects.select_for_update().get(pk=version.pk)
    if version.published_at is None:
        version.published_at = timezone.now()
        version.save(update_fields=["published_at"])
    return version

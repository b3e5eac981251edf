"""Leads to call: who calls whom (a round-robin among the Sales group, as enquiries are
handed out) and the calls staff log."""

import itertools
from collections.abc import Iterator

from django.contrib.auth.models import Group
from django.db import transaction

from enquiries.services.enquiries import sales_members
from enquiries.services.sales_group import SALES_GROUP_NAME

from ..models import Lead, LeadCall


def rotation_members_locked() -> list:
    """The active Sales members in rotation order, with the Sales group row locked so two
    rescoring runs can't hand out the same turn (the lock enquiries' rotation takes too)."""
    if not Group.objects.select_for_update().filter(name=SALES_GROUP_NAME).exists():
        return []
    return list(sales_members())


def rotation_after(members: list) -> Iterator:
    """The members, endlessly, starting after the one the rotation picked last. Leads are
    listed in one batch highest score first, so the last one picked is the newest listing's
    lowest score (then highest pk)."""
    last_id = (
        Lead.objects.filter(auto_assigned_to__isnull=False)
        .order_by("-listed_at", "score", "-pk")
        .values_list("auto_assigned_to", flat=True)
        .first()
    )
    start = next((i for i, m in enumerate(members) if last_id is not None and m.pk > last_id), 0)
    return itertools.islice(itertools.cycle(members), start, None)


@transaction.atomic
def lead_call_log(*, lead: Lead, outcome: str, author, note: str = "") -> LeadCall:
    """Staff called the lead: the call is kept, and the lead shows its last outcome. An
    unowned lead becomes the caller's."""
    call = LeadCall(lead=lead, outcome=outcome, note=note, author=author)
    call.full_clean()
    call.save()
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    lead.last_outcome, lead.last_called_at = outcome, call.created_at
    if lead.owner_id is None and author is not None:
        lead.owner = author
    lead.save(update_fields=["last_outcome", "last_called_at", "owner"])
    return call

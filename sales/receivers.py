"""Model signals that make a lead's score stale and retire the dashboard's kept figures
(connected in SalesConfig.ready): the apps below don't know this one exists. Only markers
are written here; the score itself, with its DNS lookup, is computed by the beat task."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models.signals import post_save

from contacts.models import Contact
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order

from .selectors.kept import figures_changed
from .services.scoring import lead_changed


def _contact_changed(sender, instance, **kwargs) -> None:
    lead_changed(contact_ids=[instance.pk])
    figures_changed()  # an order without a billing country counts by its contact's


def _lead_row_changed(sender, instance, **kwargs) -> None:
    if instance.contact_id:
        lead_changed(contact_ids=[instance.contact_id])
    figures_changed()  # an order without a contact counts too


RECEIVERS = [(_contact_changed, Contact, "sales-contact-changed")] + [
    (_lead_row_changed, model, f"sales-{model._meta.model_name}")
    for model in (SampleRequest, Enquiry, Order)
]


def connect() -> None:
    for receiver, model, uid in RECEIVERS:
        post_save.connect(receiver, sender=model, dispatch_uid=uid)


@contextmanager
def disconnected() -> Iterator[None]:
    """Without the receivers: for writing rows at a migration state before sales' tables
    existed (tests/smosite/test_app_moves.py)."""
    for receiver, model, uid in RECEIVERS:
        post_save.disconnect(receiver, sender=model, dispatch_uid=uid)
    try:
        yield
    finally:
        connect()

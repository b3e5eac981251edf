"""Model signals that make a lead's score stale (connected in SalesConfig.ready): the apps
below don't know this one exists. Only a marker is written here; the score itself, with
its DNS lookup, is computed by the beat task."""

from django.db.models.signals import post_save

from contacts.models import Contact
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order

from .services.scoring import lead_changed


def _contact_changed(sender, instance, **kwargs) -> None:
    lead_changed(contact_ids=[instance.pk])


def _lead_row_changed(sender, instance, **kwargs) -> None:
    if instance.contact_id:
        lead_changed(contact_ids=[instance.contact_id])


def connect() -> None:
    post_save.connect(_contact_changed, sender=Contact, dispatch_uid="sales-contact-changed")
    for model in (SampleRequest, Enquiry, Order):
        post_save.connect(
            _lead_row_changed, sender=model, dispatch_uid=f"sales-{model._meta.model_name}"
        )

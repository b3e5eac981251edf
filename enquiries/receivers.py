"""Signal receivers, connected in EnquiriesConfig.ready. Each one calls a service."""

from django.dispatch import receiver

from .services import samples
from .signals import email_delivery_finished


@receiver(email_delivery_finished, dispatch_uid="sample-request-delivery")
def sample_request_email_finished(sender, email, **kwargs):
    samples.sample_request_record_delivery(email=email)

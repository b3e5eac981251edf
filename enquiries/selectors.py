"""Reads for the visitor-facing lead pages."""

from reports.models import Report

from .models import OutboundEmail, SampleRequest


def report_get_for_sample(*, number: int) -> Report | None:
    """Published and upcoming reports take sample requests (an upcoming report's sample is
    its outline); drafts and unknown numbers do not."""
    return (
        Report.objects.filter(
            number=number, status__in=[Report.Status.PUBLISHED, Report.Status.UPCOMING]
        )
        .select_related("category")
        .first()
    )


def sample_request_get_by_token(*, token: str) -> SampleRequest | None:
    if not token or len(token) > 64:
        return None
    return SampleRequest.objects.filter(public_token=token).select_related("report").first()


def sample_request_email_retrying(*, sample_request: SampleRequest) -> bool:
    """Whether the sample's email is waiting for a retry (the recipient's server refused it
    for now): the status page says so instead of just "sending"."""
    return OutboundEmail.objects.filter(
        related_id=str(sample_request.pk),
        related_type__app_label="enquiries",
        related_type__model="samplerequest",
        template="enquiries/email/sample_request",
        status=OutboundEmail.Status.RETRYING,
    ).exists()


def mask_email(address: str) -> str:
    """ "jane@acme.com" -> "j•••@acme.com": enough for the visitor to recognise, not to read."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"

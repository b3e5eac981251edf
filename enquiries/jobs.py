"""The kinds of background job leads need (the mechanism: common/jobs.py). Attempts, backoff
and time limits are settings, named here."""

from common import jobs
from reports.models import Report

from .models import EnquiryReply, SampleRequest
from .services import enquiries, samples

# Not on the "pdf" queue on purpose: stamping takes a fraction of a second, and a visitor
# waiting for a sample must not queue behind full-report renders.
jobs.register(
    samples.JOB,
    handler=samples.sample_request_prepare,
    model=SampleRequest,
    queue="default",
    max_attempts="SAMPLE_PREPARE_MAX_ATTEMPTS",
    backoff="SAMPLE_PREPARE_RETRY_SECONDS",
    on_give_up=samples.sample_request_give_up,
)
jobs.register(
    enquiries.REPLY_JOB,
    handler=enquiries.enquiry_reply_prepare,
    model=EnquiryReply,
    queue="default",
    max_attempts="ENQUIRY_REPLY_MAX_ATTEMPTS",
    backoff="ENQUIRY_REPLY_RETRY_BACKOFF_SECONDS",
    on_give_up=enquiries.enquiry_reply_give_up,
)
jobs.register(
    enquiries.PUBLISHED_JOB,
    handler=enquiries.enquiries_notify_report_published,
    model=Report,
    queue="default",
    max_attempts="JOB_MAX_ATTEMPTS",
    backoff="JOB_RETRY_BACKOFF_SECONDS",
)

"""The kinds of background job the catalogue and the shop need (the mechanism:
common/jobs.py). Attempts, backoff and time limits are settings, named here."""

from common import jobs

from .models import Order, ReportDocument, StripeEvent
from .services import documents, fulfilment, webhooks

jobs.register(
    documents.RENDER_JOB,
    handler=documents.report_document_render,
    model=ReportDocument,
    queue="pdf",
    max_attempts="PDF_RENDER_MAX_ATTEMPTS",
    backoff="PDF_RENDER_RETRY_BACKOFF_SECONDS",
    on_give_up=documents.report_document_give_up,
    soft_time_limit="PDF_RENDER_SOFT_TIME_LIMIT",
    time_limit="PDF_RENDER_TIME_LIMIT",
)
jobs.register(
    webhooks.JOB,
    handler=webhooks.stripe_event_process,
    model=StripeEvent,
    queue="payments",
    max_attempts="STRIPE_EVENT_MAX_ATTEMPTS",
    backoff="STRIPE_EVENT_RETRY_BACKOFF_SECONDS",
    on_give_up=webhooks.stripe_event_give_up,
)
jobs.register(
    fulfilment.DELIVERABLE_JOB,
    handler=fulfilment.order_deliverable_prepare,
    model=Order,
    queue="payments",
    max_attempts="DELIVERABLE_MAX_ATTEMPTS",
    backoff="DELIVERABLE_RETRY_BACKOFF_SECONDS",
    on_give_up=fulfilment.order_deliverable_give_up,
)

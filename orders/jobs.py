"""The kinds of background job the shop needs (the mechanism: common/jobs.py). Attempts,
backoff and time limits are settings, named here."""

from common import jobs
from reports.models import ReportEdition

from .models import EditionNotice, Order, Seat, StripeEvent
from .services import editions, fulfilment, recovery, seats, webhooks

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
jobs.register(
    recovery.REMINDER_JOB,
    handler=recovery.checkout_reminder_send,
    model=Order,
    queue="default",
    max_attempts="JOB_MAX_ATTEMPTS",
    backoff="JOB_RETRY_BACKOFF_SECONDS",
)
jobs.register(
    seats.SEAT_COPY_JOB,
    handler=seats.seat_copy_prepare,
    model=Seat,
    queue="payments",
    max_attempts="DELIVERABLE_MAX_ATTEMPTS",
    backoff="DELIVERABLE_RETRY_BACKOFF_SECONDS",
    on_give_up=seats.seat_copy_give_up,
)
jobs.register(
    editions.NOTICES_JOB,
    handler=editions.edition_notices_create,
    model=ReportEdition,
    queue="default",
    max_attempts="JOB_MAX_ATTEMPTS",
    backoff="JOB_RETRY_BACKOFF_SECONDS",
)
jobs.register(
    editions.NOTICE_JOB,
    handler=editions.edition_notice_send,
    model=EditionNotice,
    queue="payments",
    max_attempts="DELIVERABLE_MAX_ATTEMPTS",
    backoff="DELIVERABLE_RETRY_BACKOFF_SECONDS",
    on_give_up=editions.edition_notice_give_up,
)

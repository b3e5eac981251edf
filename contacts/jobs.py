"""The outbox's kind of background job (the mechanism: common/jobs.py). Attempts and backoff
are settings, named here."""

from common import jobs

from .models import OutboundEmail
from .services import outbox

jobs.register(
    outbox.JOB,
    handler=outbox.email_send,
    model=OutboundEmail,
    queue="mail",
    max_attempts="MAIL_MAX_ATTEMPTS",
    backoff="MAIL_RETRY_BACKOFF_SECONDS",
    on_give_up=outbox.email_give_up,
)

"""The accounts' kind of background job (the mechanism: common/jobs.py)."""

from common import jobs

from .models import SignInRequest
from .services import SIGN_IN_JOB, sign_in_request_handle

jobs.register(
    SIGN_IN_JOB,
    handler=sign_in_request_handle,
    model=SignInRequest,
    queue="mail",
    max_attempts="MAIL_MAX_ATTEMPTS",
    backoff="MAIL_RETRY_BACKOFF_SECONDS",
)

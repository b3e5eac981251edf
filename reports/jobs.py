"""The kinds of background job the catalogue needs (the mechanism: common/jobs.py).
Attempts, backoff and time limits are settings, named here."""

from common import jobs

from .models import ReportDocument
from .services import documents

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

"""Sample requests: the lead, the personalised sample and the email that carries it.

The journey:
1. `sample_request_create` (the view) stores the request with status "received" and, after
   commit, dispatches the prepare task. The committed row is the durable intent: if the broker
   is down, `sample_request_dispatch_stale` (Celery beat) dispatches it later.
2. `sample_request_prepare` (the task) stamps the cached base sample "Prepared for <name>,
   <company>" into the private storage, marks the request "pdf_ready" and, in the same
   transaction, queues the email through the mail log (`email_queue`, PDF attached); the
   same worker sends it right after commit (a failed attempt is retried by the mail worker).
3. When it is sent, `sample_request_record_delivery` (on the mail log's
   `email_delivery_finished` signal) marks the request "emailed", or "failed" with the error.

Asking again (the same email, the same report, within SAMPLE_DEDUPE_HOURS) never makes a new
request or a new stamping job:
- request still received or pdf_ready: nothing new is queued; the email in flight will arrive;
- emailed: the existing stamped copy is re-sent (a new mail-log row, resend_count + 1);
- failed: it is retried: re-sent from the stamped copy if there is one, otherwise stamped again.
Staff's re-send (admin) is the same `sample_request_resend`.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import storages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from common.net import ip_truncate

from ..freemail import is_free_mail
from ..models import CONSENT_VERSION, Contact, OutboundEmail, SampleRequest
from .contacts import PROFILE_FIELDS, contact_upsert
from .mail import email_queue

logger = logging.getLogger(__name__)

DELIVERY_TEMPLATE = "enquiries/email/sample_request"
STAFF_TEMPLATE = "enquiries/email/sample_request_staff"
RETRY_CAP_SECONDS = 60
Status = SampleRequest.Status


# --- Creating a request -------------------------------------------------------------------


@transaction.atomic
def sample_request_create(
    *, report, form_data: dict, attribution: dict, ip: str, user_agent: str
) -> tuple[SampleRequest, bool]:
    """Store a sample request (or re-send a recent one). Returns (request, created)."""
    contact = contact_upsert(
        email=form_data["email"], **{k: form_data.get(k) for k in PROFILE_FIELDS}
    )
    # Lock the contact: two identical posts at once then see each other's request.
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    recent = sample_request_recent(contact=contact, report=report)
    if recent is not None:
        sample_request_resend(sample_request=recent)
        return recent, False
    sample_request = SampleRequest(
        contact=contact,
        report=report,
        email=contact.email,
        **{k: form_data.get(k) or "" for k in (*PROFILE_FIELDS, "message")},
        free_mail=is_free_mail(contact.email),
        ip=ip_truncate(ip) or None,
        user_agent=user_agent[:400],
        consent_version=CONSENT_VERSION,
        consent_at=timezone.now(),
        **attribution,
    )
    sample_request.full_clean()
    sample_request.save()
    sample_request_dispatch(sample_request=sample_request)
    _notify_staff(sample_request)
    return sample_request, True


def sample_request_recent(*, contact: Contact, report) -> SampleRequest | None:
    since = timezone.now() - timedelta(hours=settings.SAMPLE_DEDUPE_HOURS)
    return (
        SampleRequest.objects.filter(contact=contact, report=report, created_at__gte=since)
        .order_by("-created_at")
        .first()
    )


def _notify_staff(sample_request: SampleRequest) -> None:
    """The optional email to sales for each new lead (SAMPLE_NOTIFY_EMAIL); Reply-To is the
    lead, so sales can answer from their mail client."""
    if not settings.SAMPLE_NOTIFY_EMAIL:
        return
    admin_path = reverse("admin:enquiries_samplerequest_change", args=[sample_request.pk])
    email_queue(
        to=settings.SAMPLE_NOTIFY_EMAIL,
        template=STAFF_TEMPLATE,
        context={"sample_request": sample_request, "admin_url": settings.SITE_URL + admin_path},
        related=sample_request,
        contact=sample_request.contact,
        reply_to=sample_request.email,
        dedupe_key=f"sample-staff:{sample_request.pk}",
    )


def sample_request_dispatch(*, sample_request: SampleRequest, countdown: int = 0) -> None:
    """Hand the request to the worker after commit. With the broker down the row stays
    "received" and the sweeper dispatches it later."""
    from ..tasks import sample_request_prepare

    pk = sample_request.pk

    def send():
        try:
            sample_request_prepare.apply_async(args=[pk], countdown=countdown, retry=False)
        except Exception:  # noqa: BLE001 - the committed row is the durable intent
            logger.warning("broker unavailable; sample request %s left for the sweeper", pk)

    transaction.on_commit(send)


def sample_request_dispatch_stale() -> int:
    """The sweeper: dispatch requests still "received" and untouched for
    SAMPLE_STALE_AFTER_SECONDS (the broker was down, or a worker died mid-task). A request
    waiting for a retry is touched at each attempt and retries sooner than that, so it is
    not dispatched twice. Returns how many were dispatched."""
    stale = timezone.now() - timedelta(seconds=settings.SAMPLE_STALE_AFTER_SECONDS)
    ids = list(
        SampleRequest.objects.filter(status=Status.RECEIVED, updated_at__lt=stale)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        sample_request_dispatch(sample_request=SampleRequest(pk=pk))
    return len(ids)


# --- The worker's side: stamp, then email -------------------------------------------------


def sample_request_prepare(*, sample_request: SampleRequest) -> bool:
    """Stamp the sample and queue its email. Safe to run any number of times: only a
    "received" request that no other worker is stamping is claimed. Returns False when the
    base sample is not rendered yet (its render is queued; the caller retries later).

    No transaction is held while stamping: `sample_copy_create` briefly locks the report
    row, and holding that lock to our commit would stamp one report's samples one at a time."""
    from reports.services.documents import DocumentNotReady, sample_copy_create

    claimed = _claim_for_stamping(sample_request)
    if claimed is None:
        return True
    try:
        path = sample_copy_create(
            report=claimed.report,
            name=claimed.name,
            company=claimed.company,
            prepared_on=timezone.localdate(claimed.created_at),
            path_hint=_path_hint(claimed),
        )
    except DocumentNotReady:
        return False
    _record_stamped(claimed, path)
    return True


@transaction.atomic
def _claim_for_stamping(sample_request: SampleRequest) -> SampleRequest | None:
    """The request, marked as being stamped; None when it is done or a live claim exists
    (one older than SAMPLE_STALE_AFTER_SECONDS belonged to a worker that died)."""
    locked = SampleRequest.objects.select_for_update().get(pk=sample_request.pk)
    lease = timezone.now() - timedelta(seconds=settings.SAMPLE_STALE_AFTER_SECONDS)
    if locked.status != Status.RECEIVED or (
        locked.stamping_since and locked.stamping_since > lease
    ):
        return None
    locked.stamping_since = timezone.now()
    locked.save(update_fields=["stamping_since", "updated_at"])
    return locked


@transaction.atomic
def _record_stamped(sample_request: SampleRequest, path: str) -> None:
    """pdf_ready, and the email queued in the same transaction (sent after commit)."""
    locked = SampleRequest.objects.select_for_update().get(pk=sample_request.pk)
    if locked.status != Status.RECEIVED:
        return  # a run that took over an expired claim finished first
    locked.file_path = path
    locked.status = Status.PDF_READY
    locked.pdf_ready_at = timezone.now()
    locked.stamping_since = None
    locked.error = ""
    locked.full_clean()
    locked.save()
    # This already runs in a worker: sending here saves a task hop per sample.
    sample_request_deliver(sample_request=locked, send_here=True)


def _path_hint(sample_request: SampleRequest) -> str:
    name = slugify(sample_request.name)[:40] or "sample"
    return f"samples/{sample_request.report.number}/{sample_request.pk}-{name}.pdf"


def sample_request_retry_later(*, sample_request: SampleRequest, error: str = "") -> int | None:
    """Count a failed stamping attempt (`error` empty: the base was not ready). Dispatches
    the next attempt with exponential backoff and returns its delay, or marks the request
    failed after SAMPLE_PREPARE_MAX_ATTEMPTS and returns None."""
    with transaction.atomic():
        locked = SampleRequest.objects.select_for_update().get(pk=sample_request.pk)
        if locked.status != Status.RECEIVED:
            return None
        locked.prepare_attempts += 1
        locked.stamping_since = None
        if locked.prepare_attempts >= settings.SAMPLE_PREPARE_MAX_ATTEMPTS:
            reason = error or "The report's base sample was not ready in time."
            _mark_failed(
                locked, f"Stamping gave up after {locked.prepare_attempts} attempts: {reason}"
            )
            return None
        delay = min(
            RETRY_CAP_SECONDS,
            settings.SAMPLE_PREPARE_RETRY_SECONDS * 2 ** (locked.prepare_attempts - 1),
        )
        locked.error = error
        locked.save(update_fields=["prepare_attempts", "stamping_since", "error", "updated_at"])
        sample_request_dispatch(sample_request=locked, countdown=delay)
    return delay


def _mark_failed(sample_request: SampleRequest, error: str) -> None:
    sample_request.status = Status.FAILED
    sample_request.error = error[:4000]
    sample_request.failed_at = timezone.now()
    sample_request.save()
    logger.warning("sample request %s failed: %s", sample_request.pk, error)


def sample_request_deliver(
    *, sample_request: SampleRequest, send_here: bool = False
) -> OutboundEmail:
    """Queue the email carrying the stamped PDF (`send_here`: see `email_queue`). One email
    per send: the dedupe key holds the send's number, so a rerun of the same step never
    emails twice."""
    report = sample_request.report
    return email_queue(
        to=sample_request.email,
        template=DELIVERY_TEMPLATE,
        context=_delivery_context(sample_request),
        related=sample_request,
        contact=sample_request.contact,
        attachment_path=sample_request.file_path,
        attachment_name=f"{report.slug}-sample.pdf",
        dedupe_key=_delivery_key(sample_request),
        send_here=send_here,
    )


def _delivery_key(sample_request: SampleRequest) -> str:
    return f"sample:{sample_request.pk}:{sample_request.resend_count}"


def _delivery_context(sample_request: SampleRequest) -> dict:
    report = sample_request.report
    site = settings.SITE_URL
    return {
        "sample_request": sample_request,
        "report": report,
        "report_url": site + report.get_absolute_url(),
        "buy_url": site + reverse("reports:purchase", args=[report.number]),
        "ask_url": site + reverse("enquiries:pre-order-enquiry", args=[report.number]),
        "status_url": site + sample_request_status_path(sample_request),
    }


def sample_request_status_path(sample_request: SampleRequest) -> str:
    return reverse("enquiries:sample-status", args=[sample_request.public_token])


def sample_request_record_delivery(*, email: OutboundEmail) -> None:
    """The mail log's outcome for a sample email: "emailed", or "failed" with the error.
    Only the request's current send counts (an earlier send finishing late changes nothing)."""
    if email.template != DELIVERY_TEMPLATE or not email.related_id:
        return
    if email.related_type_id != ContentType.objects.get_for_model(SampleRequest).pk:
        return
    with transaction.atomic():
        locked = SampleRequest.objects.select_for_update().filter(pk=email.related_id).first()
        if locked is None or email.dedupe_key != _delivery_key(locked):
            return
        if email.status == OutboundEmail.Status.SENT:
            locked.status = Status.EMAILED
            locked.emailed_at = email.sent_at
            locked.error = ""
            locked.save()
        elif email.status == OutboundEmail.Status.FAILED:
            _mark_failed(locked, f"Email not delivered: {email.last_error}")


# --- Asking again, re-sending -------------------------------------------------------------


def sample_request_resend(*, sample_request: SampleRequest) -> bool:
    """Send the sample again (the visitor asking again, or staff). A request still in
    progress is left alone: its email is on its way. Returns whether anything was queued."""
    with transaction.atomic():
        locked = SampleRequest.objects.select_for_update().get(pk=sample_request.pk)
        if locked.in_progress:
            return False
        if not _stamped_copy_exists(locked):
            _restamp(locked)
            return True
        locked.resend_count += 1
        locked.last_resent_at = timezone.now()
        locked.status = Status.PDF_READY
        locked.error = ""
        locked.save()
        sample_request_deliver(sample_request=locked)
    return True


def _stamped_copy_exists(sample_request: SampleRequest) -> bool:
    return bool(sample_request.file_path) and storages["private"].exists(sample_request.file_path)


def _restamp(sample_request: SampleRequest) -> None:
    """Back to "received" with a fresh attempt budget; the next send gets a new number."""
    if sample_request.file_path:
        sample_request.resend_count += 1
        sample_request.last_resent_at = timezone.now()
    sample_request.status = Status.RECEIVED
    sample_request.file_path = ""
    sample_request.error = ""
    sample_request.prepare_attempts = 0
    sample_request.stamping_since = None
    sample_request.save()
    sample_request_dispatch(sample_request=sample_request)

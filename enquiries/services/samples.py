"""Sample requests: the lead, the personalised sample and the email that carries it.

The journey:
1. `sample_request_create` (the view) stores the request with status "received" and its
   "sample.prepare" job in one transaction; a worker picks the job up after commit (if the
   broker is down, the job sweeper publishes it once it is back).
2. `sample_request_prepare` (the job) stamps the cached base sample "Prepared for <name>,
   <company>" into the private storage, then marks the request "pdf_ready" and queues the
   email through the mail log (`email_queue`, PDF attached) in one transaction; the same
   worker sends it right after commit (a failed attempt is retried by the mail worker).
3. The email's outcome (`sample_request_record_delivery`, registered with the mail log) marks
   the request "emailed", or "failed" with the error, in the transaction that records it.

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

from common import jobs
from common.files import private_files_delete_later
from common.net import ip_truncate
from common.text import control_characters_strip
from contacts.models import Contact, OutboundEmail
from contacts.services.contacts import PROFILE_FIELDS, contact_upsert
from contacts.services.marketing import Source, marketing_consent_from_form
from contacts.services.outbox import email_outcome_register, email_queue
from reports.services.documents import DocumentNotReady, sample_copy_create

from ..freemail import is_free_mail
from ..models import CONSENT_VERSION, SampleRequest
from .followups import followup_start

logger = logging.getLogger(__name__)

DELIVERY_TEMPLATE = "enquiries/email/sample_request"
STAFF_TEMPLATE = "enquiries/email/sample_request_staff"
JOB = "sample.prepare"
Status = SampleRequest.Status


# --- Creating a request -------------------------------------------------------------------


@transaction.atomic
def sample_request_create(
    *, report, form_data: dict, attribution: dict, ip: str, user_agent: str
) -> tuple[SampleRequest, bool]:
    """Store a sample request (or re-send a recent one). Returns (request, created)."""
    # The contact comes back locked: two identical posts at once see each other's request.
    contact = contact_upsert(
        email=form_data["email"], **{k: form_data.get(k) for k in PROFILE_FIELDS}
    )
    marketing_consent_from_form(
        contact=contact,
        ticked=bool(form_data.get("marketing")),
        source=Source.SAMPLE_FORM,
        ip=ip_truncate(ip),
    )
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
        user_agent=control_characters_strip(user_agent)[:400],
        consent_version=CONSENT_VERSION,
        consent_at=timezone.now(),
        **attribution,
    )
    # The contact and report rows were just read (the contact is locked), and the public
    # token is random with a unique index behind it: checking them again is three queries.
    sample_request.full_clean(exclude=["contact", "report"], validate_unique=False)
    sample_request.save()
    jobs.enqueue(JOB, target_id=sample_request.pk, new_target=True)
    _notify_staff(sample_request)
    followup_start(sample_request=sample_request)  # only with marketing consent
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


# --- The worker's side: stamp, then email -------------------------------------------------


def sample_request_prepare(*, work: jobs.JobRun) -> None:
    """The "sample.prepare" job: stamp the sample, then queue its email. A request no longer
    "received" is left alone (a rerun finds the work done). While the report's base sample
    is still rendering, the job tries again with backoff.

    No transaction is held while stamping: `sample_copy_create` briefly locks the report
    row, and holding that lock to our commit would stamp one report's samples one at a time."""

    sample_request = SampleRequest.objects.select_related("report").get(pk=work.target_id)
    if sample_request.status != Status.RECEIVED:
        return
    try:
        path = sample_copy_create(
            report=sample_request.report,
            name=sample_request.name,
            company=sample_request.company,
            prepared_on=timezone.localdate(sample_request.created_at),
            path_hint=_path_hint(sample_request),
        )
    except DocumentNotReady as exc:
        raise jobs.Retry(
            f"The report's base sample is not rendered yet ({exc}).", after=exc.render_job
        ) from exc
    with work.completing():
        _record_stamped(sample_request, path)


def _record_stamped(sample_request: SampleRequest, path: str) -> None:
    """pdf_ready, and the email queued in the same transaction (sent after commit)."""
    locked = (
        SampleRequest.objects.select_for_update(of=("self",))
        .select_related("report", "contact")
        .get(pk=sample_request.pk)
    )
    if locked.status != Status.RECEIVED:
        # Erased (or failed) while stamping: the copy names the person and nothing will
        # send it, so it is deleted, never kept.
        if path != locked.file_path:
            private_files_delete_later([path])
        return
    locked.file_path = path
    locked.status = Status.PDF_READY
    locked.pdf_ready_at = timezone.now()
    locked.error = ""
    locked.save(update_fields=["file_path", "status", "pdf_ready_at", "error", "updated_at"])
    # This already runs in a worker: sending here saves a task hop per sample.
    sample_request_deliver(sample_request=locked, send_here=True)


def _path_hint(sample_request: SampleRequest) -> str:
    """By id: a storage path ends up in logs and listings, a person's name must not."""
    return f"samples/{sample_request.report.number}/{sample_request.pk}.pdf"


def sample_request_give_up(sample_request_id: int, error: str) -> None:
    """The stamping job's last attempt failed: the request is failed, with the reason."""
    locked = SampleRequest.objects.select_for_update().get(pk=sample_request_id)
    if locked.status == Status.RECEIVED:
        _mark_failed(locked, f"Stamping failed: {error}")


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
        "buy_url": site + reverse("orders:purchase", args=[report.number]),
        "ask_url": site + reverse("enquiries:pre-order-enquiry", args=[report.number]),
        "status_url": site + sample_request_status_path(sample_request),
    }


def sample_request_status_path(sample_request: SampleRequest) -> str:
    return reverse("enquiries:sample-status", args=[sample_request.public_token])


def sample_request_record_delivery(email: OutboundEmail) -> None:
    """The mail log's outcome for a sample email, in the transaction that records it:
    "emailed", or "failed" with the error. Only the request's current send counts (an
    earlier send finishing late changes nothing)."""
    if not email.related_id:
        return
    if email.related_type_id != ContentType.objects.get_for_model(SampleRequest).pk:
        return
    locked = SampleRequest.objects.select_for_update().filter(pk=email.related_id).first()
    if locked is None or email.dedupe_key != _delivery_key(locked):
        return
    if email.status == OutboundEmail.Status.SENT:
        locked.status = Status.EMAILED
        locked.emailed_at = email.sent_at
        locked.error = ""
        locked.save(update_fields=["status", "emailed_at", "error", "updated_at"])
    elif email.status == OutboundEmail.Status.FAILED:
        _mark_failed(locked, f"Email not delivered: {email.last_error}")


email_outcome_register(template=DELIVERY_TEMPLATE, handler=sample_request_record_delivery)


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
    sample_request.save()
    jobs.enqueue(JOB, target_id=sample_request.pk, restart=True)

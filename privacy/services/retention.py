"""The scheduled purge of personal data past its retention settings."""

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.utils import timezone

from common.files import private_file_deletions_restart, private_files_delete_later
from contacts.models import Contact, OutboundEmail
from enquiries.models import Enquiry, EnquiryReply, InboundEmail, SampleRequest
from orders.models import DownloadLog, StripeEvent


def personal_data_purge(*, now=None) -> dict[str, int]:
    """Remove what is past its retention setting; safe to run at any time, any number of
    times. Orders are accounting records and stay (erase a buyer on request instead)."""
    now = now or timezone.now()
    lead_cutoff = now - timedelta(days=settings.LEAD_RETENTION_DAYS)
    return {
        "sample_requests": _old_sample_requests_delete(lead_cutoff),
        "enquiries": _old_enquiries_delete(lead_cutoff),
        "emails_received": _old_inbound_emails_delete(lead_cutoff),
        "emails": _old_emails_delete(lead_cutoff),
        "contacts": _orphan_contacts_delete(lead_cutoff),
        "mail_bodies": _mail_bodies_drop(now),
        "stripe_payloads": _stripe_payloads_drop(now),
        "history": _history_delete(now),
        "access_logs": _access_logs_delete(now),
        "sessions": _sessions_delete(),
        "file_deletions_restarted": private_file_deletions_restart(),
    }


def _old_sample_requests_delete(cutoff) -> int:
    old = SampleRequest.objects.filter(created_at__lt=cutoff, updated_at__lt=cutoff)
    files = [path for path in old.values_list("file_path", flat=True) if path]
    deleted, _ = old.delete()
    private_files_delete_later(files)
    return deleted


def _old_enquiries_delete(cutoff) -> int:
    """Enquiries nobody touched within the retention period, with their replies (and the
    samples stamped for them) and their history."""
    old = Enquiry.objects.filter(created_at__lt=cutoff, updated_at__lt=cutoff)
    ids = list(old.values_list("pk", flat=True))
    files = EnquiryReply.objects.filter(enquiry_id__in=ids).values_list("sample_path", flat=True)
    files = [path for path in files if path]
    files += _inbound_attachment_paths(InboundEmail.objects.filter(enquiry_id__in=ids))
    EnquiryReply.objects.filter(enquiry_id__in=ids).delete()
    deleted, _ = Enquiry.objects.filter(pk__in=ids).delete()
    # After the delete, which itself writes a "deleted" history row per enquiry.
    Enquiry.history.model.objects.filter(id__in=ids).delete()
    private_files_delete_later(files)
    return deleted


def _old_inbound_emails_delete(cutoff) -> int:
    """Messages read from the inbound mailbox past the lead retention, with their attachments
    (those filed in a thread went with their enquiry, or stay while it is kept)."""
    old = InboundEmail.objects.filter(received_at__lt=cutoff, enquiry__isnull=True)
    files = _inbound_attachment_paths(old)
    deleted = old.delete()[0]
    private_files_delete_later(files)
    return deleted


def _inbound_attachment_paths(rows) -> list[str]:
    return [
        item["path"]
        for attachments in rows.values_list("attachments", flat=True)
        for item in attachments or []
        if item.get("path")
    ]


def _old_emails_delete(cutoff) -> int:
    """Mail-log rows past the lead retention, except ones still waiting to be sent."""
    old = OutboundEmail.objects.filter(created_at__lt=cutoff).exclude(
        status=OutboundEmail.Status.QUEUED
    )
    return old.delete()[0]


def _orphan_contacts_delete(cutoff) -> int:
    """Contacts left with nothing: no lead, no order, no email, nothing new since cutoff."""
    orphans = Contact.objects.filter(
        created_at__lt=cutoff,
        updated_at__lt=cutoff,
        sample_requests__isnull=True,
        enquiries__isnull=True,
        orders__isnull=True,
        emails__isnull=True,
    )
    orphans = Contact.objects.filter(pk__in=list(orphans.values_list("pk", flat=True)))
    # Counted by model: a contact's lead score (sales.Lead) goes with it, and is no contact.
    return orphans.delete()[1].get(Contact._meta.label, 0)


def _mail_bodies_drop(now) -> int:
    cutoff = now - timedelta(days=settings.MAIL_BODY_RETENTION_DAYS)
    done = (OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED)
    return OutboundEmail.objects.filter(
        created_at__lt=cutoff, status__in=done, body_removed_at__isnull=True
    ).update(body_text="", body_html="", attachment_path="", body_removed_at=now)


def _stripe_payloads_drop(now) -> int:
    """The stored event's payload (customer name, email, address) is dropped once it was
    processed long enough ago; the row keeps its id, type, order and result."""
    cutoff = now - timedelta(days=settings.STRIPE_EVENT_RETENTION_DAYS)
    settled = (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED)
    settled += (StripeEvent.Status.FAILED,)
    return (
        StripeEvent.objects.filter(received_at__lt=cutoff, status__in=settled)
        .exclude(payload={})
        .update(payload={})
    )


def _history_delete(now) -> int:
    cutoff = now - timedelta(days=settings.HISTORY_RETENTION_DAYS)
    return Enquiry.history.model.objects.filter(history_date__lt=cutoff).delete()[0]


def _access_logs_delete(now) -> int:
    """Who signed in to the admin from where, and buyers' download addresses."""
    from axes.models import AccessFailureLog, AccessLog

    cutoff = now - timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)
    removed = AccessLog.objects.filter(attempt_time__lt=cutoff).delete()[0]
    removed += AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()[0]
    old_downloads = DownloadLog.objects.filter(downloaded_at__lt=cutoff).exclude(
        ip="", user_agent=""
    )
    return removed + old_downloads.update(ip="", user_agent="")


def _sessions_delete() -> int:
    """Expired sessions (first-touch attribution, the orders a browser started)."""
    from django.contrib.sessions.models import Session

    expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return expired

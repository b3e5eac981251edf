"""Pre-order enquiries: creation from the public form, assignment, staff updates, replies by
email, and telling enquirers when an upcoming report is published.

Every email goes through the mail log (`email_queue`) in the transaction that causes it, so
nothing is lost if the broker is down; dedupe keys make each one idempotent. A reply with a
sample waits for its "reply.prepare" job; a publication's notices are a "report.published"
job (common/jobs.py)."""

import logging
import re
from datetime import timedelta
from decimal import Decimal
from email.utils import formataddr
from itertools import groupby

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from common import jobs
from common.files import private_files_delete_later
from common.text import CONTROL_CHARS, control_characters_strip
from contacts.models import Contact, OutboundEmail
from contacts.services.contacts import PROFILE_FIELDS, contact_upsert
from contacts.services.marketing import Source, marketing_consent_from_form
from contacts.services.outbox import email_queue
from orders.quotes import quote_token_create
from reports.models import Licence, Report
from reports.services.documents import DocumentNotReady, sample_copy_create

from .. import sla
from ..freemail import is_free_mail
from ..models import CONSENT_VERSION, Enquiry, EnquiryReply, InboundEmail, ReplyTemplate
from .followups import followups_stop
from .mail_thread import thread_headers, thread_reply_to
from .sales_group import SALES_GROUP_NAME

logger = logging.getLogger(__name__)
User = get_user_model()
REPLY_JOB = "reply.prepare"
PUBLISHED_JOB = "report.published"


# --- Creation -----------------------------------------------------------------------------


@transaction.atomic
def enquiry_create(
    *,
    report: Report,
    contact_details: dict,
    enquiry_type: str,
    question: str,
    licence: Licence | None = None,
    attribution: dict | None = None,
    ip: str = "",
    user_agent: str = "",
    marketing: bool = False,
) -> Enquiry:
    """Record an enquiry from the public form: upsert the contact, assign an owner, and queue
    the visitor's acknowledgement and the sales-inbox notification. `marketing`: the form's
    marketing box was ticked (recorded in the contact's consent history). A sample follow-up
    running for the person stops for good: a person is talking to us now.

    The same question about the same report from the same address within
    ENQUIRY_DUPLICATE_WINDOW_SECONDS returns the first enquiry and sends nothing (a double
    submit). `contact_upsert` locks the contact row, so concurrent duplicates serialise."""
    contact = contact_upsert(**contact_details)
    duplicate = _recent_duplicate(contact=contact, report=report, question=question)
    if duplicate:
        return duplicate
    enquiry = Enquiry(
        contact=contact,
        report=report,
        type=enquiry_type,
        licence=licence,
        question=question,
        about_upcoming_report=report.status == Report.Status.UPCOMING,
        is_free_mail=is_free_mail(contact.email),
        ip=ip,
        user_agent=control_characters_strip(user_agent)[:300],
        consent_version=CONSENT_VERSION,
        consent_at=timezone.now(),
        **{k: contact_details.get(k) or "" for k in PROFILE_FIELDS},
        **(attribution or {}),
    )
    _assignment_apply(enquiry)
    enquiry.full_clean()
    enquiry.save()
    _acknowledgement_queue(enquiry)
    _staff_notification_queue(enquiry)
    marketing_consent_from_form(
        contact=contact, ticked=marketing, source=Source.ENQUIRY_FORM, ip=ip
    )
    followups_stop(contact=contact, reason=f"Enquired ({enquiry.reference}).")
    return enquiry


def _recent_duplicate(*, contact: Contact, report: Report, question: str) -> Enquiry | None:
    since = timezone.now() - timedelta(seconds=settings.ENQUIRY_DUPLICATE_WINDOW_SECONDS)
    return (
        Enquiry.objects.filter(
            contact=contact, report=report, question=question, created_at__gte=since
        )
        .order_by("pk")
        .first()
    )


def _acknowledgement_queue(enquiry: Enquiry) -> OutboundEmail:
    return email_queue(
        to=enquiry.contact.email,
        template="enquiries/email/enquiry_acknowledgement",
        context={
            "enquiry": enquiry,
            "contact": enquiry.contact,
            "report": enquiry.report,
            "report_url": settings.SITE_URL + enquiry.report.get_absolute_url(),
            "due_at": sla.sla_deadline(enquiry.created_at),
            "business_tz": settings.ENQUIRY_BUSINESS_TIME_ZONE,
            "promise": sla.sla_promise_text(),
        },
        related=enquiry,
        contact=enquiry.contact,
        reply_to=enquiry_reply_to(enquiry, author=enquiry.owner),
        dedupe_key=f"enquiry-ack:{enquiry.pk}",
    )


def _staff_notification_queue(enquiry: Enquiry) -> OutboundEmail | None:
    if not settings.SALES_INBOX_EMAIL:
        return None
    return email_queue(
        to=settings.SALES_INBOX_EMAIL,
        template="enquiries/email/enquiry_staff_notification",
        context={
            "enquiry": enquiry,
            "contact": enquiry.contact,
            "report": enquiry.report,
            "admin_url": enquiry_admin_url(enquiry),
            "due_at": sla.sla_deadline(enquiry.created_at),
            "business_tz": settings.ENQUIRY_BUSINESS_TIME_ZONE,
        },
        related=enquiry,
        dedupe_key=f"enquiry-staff:{enquiry.pk}",
    )


def enquiry_admin_url(enquiry: Enquiry) -> str:
    return settings.SITE_URL + reverse("admin:enquiries_enquiry_change", args=[enquiry.pk])


# --- Assignment and staff updates -----------------------------------------------------------


def sales_members():
    """Active members of the Sales group, in a stable order (the rotation's order)."""
    return User.objects.filter(groups__name=SALES_GROUP_NAME, is_active=True).order_by("pk")


@transaction.atomic
def enquiry_assign(*, enquiry: Enquiry, owner=None, actor=None) -> Enquiry:
    """Give the enquiry an owner. With `owner`, that person; otherwise the ENQUIRY_ASSIGNMENT
    rule: "round_robin" takes the next active Sales member after the one the rotation picked
    last, "none" leaves it unassigned."""
    _lock_and_refresh(enquiry)
    if _assignment_apply(enquiry, owner=owner):
        _save(enquiry, actor=actor, fields=ASSIGNMENT_FIELDS)
    return enquiry


ASSIGNMENT_FIELDS = ("owner", "auto_assigned_to", "assigned_at", "status")


def _assignment_apply(enquiry: Enquiry, *, owner=None) -> bool:
    """Set owner, assignment time and status on the instance (not saved), so a new enquiry
    is stored once, already assigned. False when nobody is to be assigned."""
    if owner is None:
        if settings.ENQUIRY_ASSIGNMENT != "round_robin":
            return False
        owner = _next_in_rotation()
        if owner is None:
            logger.warning("no active member in the %s group to assign to", SALES_GROUP_NAME)
            return False
        enquiry.auto_assigned_to = owner
    enquiry.owner = owner
    enquiry.assigned_at = timezone.now()
    if enquiry.status == Enquiry.Status.NEW:
        enquiry.status = Enquiry.Status.ASSIGNED
    return True


def _next_in_rotation():
    """Lock the Sales group row so two enquiries arriving together don't both go to the same
    person, then take the member after the last one the rotation picked."""
    if not Group.objects.select_for_update().filter(name=SALES_GROUP_NAME).exists():
        return None
    members = list(sales_members())
    if not members:
        return None
    last_id = (
        Enquiry.objects.filter(auto_assigned_to__isnull=False)
        .order_by("-pk")
        .values_list("auto_assigned_to", flat=True)
        .first()
    )
    after_last = [m for m in members if last_id is not None and m.pk > last_id]
    return (after_last or members)[0]


@transaction.atomic
def enquiry_update(
    *, enquiry: Enquiry, actor, status: str, owner, staff_notes: str | None = None
) -> Enquiry:
    """A staff edit from the enquiry page. Giving a new enquiry an owner makes it "assigned";
    taking the owner away from an assigned one makes it "new" again."""
    _lock_and_refresh(enquiry)
    if owner != enquiry.owner:
        enquiry.assigned_at = timezone.now() if owner else None
        if owner and status == Enquiry.Status.NEW:
            status = Enquiry.Status.ASSIGNED
        elif not owner and status == Enquiry.Status.ASSIGNED:
            status = Enquiry.Status.NEW
    enquiry.owner = owner
    enquiry.status = status
    if staff_notes is not None:
        enquiry.staff_notes = staff_notes
    _save(enquiry, actor=actor, fields=("owner", "assigned_at", "status", "staff_notes"))
    return enquiry


@transaction.atomic
def enquiry_status_set(*, enquiry: Enquiry, status: str, actor) -> Enquiry:
    _lock_and_refresh(enquiry)
    enquiry.status = status
    _save(enquiry, actor=actor, fields=("status",))
    return enquiry


def enquiry_customer_reply_record(*, enquiry: Enquiry, inbound: InboundEmail) -> Enquiry:
    """A customer's email was filed in the thread (call inside the transaction that stores
    it): the enquiry is "customer replied" again, its response-time clock starts at the reply
    (`customer_replied_at`; enquiries/sla.py counts from it), and its owner (or the sales
    inbox) is emailed. An auto-reply (out of office) changes nothing."""
    _lock_and_refresh(enquiry)
    if inbound.automatic or enquiry.status == Enquiry.Status.SPAM:
        return enquiry
    enquiry.status = Enquiry.Status.REPLIED
    enquiry.customer_replied_at = inbound.received_at
    _save(enquiry, actor=None, fields=("status", "customer_replied_at"))
    _customer_reply_notification_queue(enquiry=enquiry, inbound=inbound)
    return enquiry


def _customer_reply_notification_queue(*, enquiry: Enquiry, inbound: InboundEmail):
    owner = enquiry.owner
    to = owner.email if owner is not None and owner.email else settings.SALES_INBOX_EMAIL
    if not to:
        return None
    return email_queue(
        to=to,
        template="enquiries/email/customer_replied",
        context={
            "enquiry": enquiry,
            "contact": enquiry.contact,
            "inbound": inbound,
            "owner_name": staff_display_name(owner) if owner else "",
            "admin_url": enquiry_admin_url(enquiry),
            "due_at": sla.sla_deadline(inbound.received_at),
            "business_tz": settings.ENQUIRY_BUSINESS_TIME_ZONE,
        },
        related=enquiry,
        dedupe_key=f"customer-replied:{inbound.pk}",
    )


def _lock_and_refresh(enquiry: Enquiry) -> None:
    """Lock the row and reload it, so an edit made from an older copy (a page opened before a
    colleague replied) can't write back stale answer times or statuses."""
    Enquiry.objects.select_for_update().filter(pk=enquiry.pk).first()
    enquiry.refresh_from_db()


def _save(enquiry: Enquiry, *, actor, fields) -> None:
    """full_clean and save only `fields`, recording `actor` as the author of the history
    entry (without one, simple_history takes the request's user from its middleware, or
    none in a task)."""
    if actor is not None:
        enquiry._history_user = actor
    enquiry.full_clean()
    enquiry.save(update_fields=[*fields, "updated_at"])


# --- Replies -------------------------------------------------------------------------------


PLACEHOLDER_PATTERN = r"\{(\w+)\}"


def reply_template_render(*, template: ReplyTemplate, enquiry: Enquiry, author) -> tuple[str, str]:
    """Fill a canned reply's placeholders. Plain substitution (no template language), so an
    edited template can't reach anything but these values."""
    # Without a licence of interest, the report's first licence: staff adjust the text.
    licence = enquiry.licence or enquiry.report.licences.filter(is_active=True).first()
    values = {
        "name": enquiry.contact.name,
        "first_name": enquiry.contact.name.split()[0] if enquiry.contact.name else "",
        "company": enquiry.contact.company,
        "report": enquiry.report.title,
        "report_number": str(enquiry.report.number),
        "licence": licence.get_kind_display() if licence else "",
        "staff_name": staff_display_name(author),
        "publisher": settings.PUBLISHER_NAME,
    }

    def fill(text: str) -> str:
        return re.sub(PLACEHOLDER_PATTERN, lambda m: values.get(m.group(1), m.group(0)), text)

    return fill(template.subject), fill(template.body)


def staff_display_name(user) -> str:
    if user is None:
        return settings.PUBLISHER_NAME
    return user.get_full_name() or user.get_username()


def purchase_link(*, reply: EnquiryReply) -> str:
    """The link in a reply: the purchase page for a licence, or, with a special price, a
    signed checkout link at that price (valid QUOTE_VALID_DAYS, until staff withdraw it)
    for this contact only."""
    url = settings.SITE_URL + reverse("orders:purchase", args=[reply.enquiry.report.number])
    if reply.quoted_price is None:  # in the reply's currency, when not the default one
        currency = reply.quoted_currency
        chosen = f"&currency={currency}" if currency != settings.DEFAULT_CURRENCY else ""
        return f"{url}?licence={reply.licence.kind}{chosen}"
    return f"{url}?quote={quote_token_create(reply_id=reply.pk)}"


@transaction.atomic
def enquiry_reply_send(
    *,
    enquiry: Enquiry,
    author,
    subject: str,
    body: str,
    attach_sample: bool = False,
    licence: Licence | None = None,
    quoted_price: Decimal | None = None,
    currency: str = "",
    template: ReplyTemplate | None = None,
) -> EnquiryReply:
    """Answer an enquiry by email from DEFAULT_FROM_EMAIL with Reply-To the author.

    Without a sample the email is written to the mail log now (sent by the mail worker after
    commit). With a sample, the reply waits in "preparing" and the `enquiry_reply_prepare`
    task stamps a fresh copy for this contact, then queues the email. Records the
    first-response time and marks the enquiry answered. `currency` (default DEFAULT_CURRENCY)
    is the special price's and the one the purchase link opens the page in."""
    currency = currency or settings.DEFAULT_CURRENCY
    if currency not in settings.CURRENCIES:
        raise ValidationError({"currency": f"We sell in {', '.join(settings.CURRENCIES)}."})
    _reply_validate(enquiry=enquiry, subject=subject, licence=licence, quoted_price=quoted_price)
    reply = EnquiryReply(
        enquiry=enquiry,
        author=author,
        template=template,
        subject=" ".join(subject.split()),
        body=body.strip(),
        attach_sample=attach_sample,
        licence=licence,
        quoted_price=quoted_price,
        quoted_currency=currency if licence else "",
    )
    reply.full_clean()
    reply.save()
    if licence:  # a quote's link names the reply, so it exists first
        reply.purchase_url = purchase_link(reply=reply)
        reply.save(update_fields=["purchase_url"])
    _response_record(enquiry=enquiry, author=author)
    if attach_sample:
        jobs.enqueue(REPLY_JOB, target_id=reply.pk)
    else:
        enquiry_reply_email_queue(reply=reply)
    return reply


def _reply_validate(*, enquiry, subject, licence, quoted_price) -> None:
    errors = {}
    if CONTROL_CHARS.search(subject.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
        errors["subject"] = "Remove special characters from the subject."
    if licence is not None and licence.report_id != enquiry.report_id:
        errors["licence"] = "Choose a licence of this enquiry's report."
    if quoted_price is not None and licence is None:
        errors["licence"] = "Choose the licence the special price is for."
    if quoted_price is not None and quoted_price <= 0:
        errors["quoted_price"] = "A quoted price must be more than zero."
    if errors:
        raise ValidationError(errors)


def _response_record(*, enquiry: Enquiry, author) -> None:
    """First-response time (once), last answer time, and the status: an open enquiry becomes
    "answered"; won/lost stay as they are. Whoever answers an unowned enquiry owns it."""
    enquiry = Enquiry.objects.select_for_update().get(pk=enquiry.pk)
    now = timezone.now()
    enquiry.first_response_at = enquiry.first_response_at or now
    enquiry.answered_at = now
    if enquiry.status not in (Enquiry.Status.WON, Enquiry.Status.LOST):
        enquiry.status = Enquiry.Status.ANSWERED
    if enquiry.owner_id is None and author is not None:
        enquiry.owner, enquiry.assigned_at = author, now
    _save(
        enquiry,
        actor=author,
        fields=("first_response_at", "answered_at", "status", "owner", "assigned_at"),
    )


def reply_to_address(author) -> str:
    """The staff member's own address (so the customer's answer reaches them), or the sales
    inbox when they have none. The display name is stripped of control characters."""
    if author is None or not author.email:
        return settings.SALES_INBOX_EMAIL
    name = CONTROL_CHARS.sub("", staff_display_name(author))
    return formataddr((f"{name} ({settings.PUBLISHER_NAME})", author.email))


def enquiry_reply_to(enquiry: Enquiry, *, author) -> str:
    """Where the customer's answer to an email about the enquiry goes: with INBOUND_ADDRESS,
    the thread's own address (read back into the thread, enquiries/services/inbound.py),
    shown with the author's name; without it, the author's own address."""
    name = f"{staff_display_name(author)} ({settings.PUBLISHER_NAME})"
    return thread_reply_to(enquiry, name=name) or reply_to_address(author)


def enquiry_reply_email_queue(*, reply: EnquiryReply) -> OutboundEmail:
    """Write the reply's email to the mail log (idempotent per reply)."""
    enquiry = reply.enquiry
    email = email_queue(
        to=enquiry.contact.email,
        template="enquiries/email/enquiry_reply",
        context={
            "reply": reply,
            "enquiry": enquiry,
            "contact": enquiry.contact,
            "report": enquiry.report,
            "staff_name": staff_display_name(reply.author),
            "question_lines": enquiry.question.splitlines() or [""],
            # The quote token's age counts from the reply's creation, when it was signed.
            "quote_valid_until": (
                reply.created_at + timedelta(days=settings.QUOTE_VALID_DAYS)
                if reply.quoted_price
                else None
            ),
        },
        related=enquiry,
        contact=enquiry.contact,
        reply_to=enquiry_reply_to(enquiry, author=reply.author),
        attachment_path=reply.sample_path,
        attachment_name=f"{enquiry.report.number}-sample.pdf" if reply.sample_path else "",
        dedupe_key=f"enquiry-reply:{reply.pk}",
        **thread_headers(enquiry),
    )
    reply.email = email
    reply.status = EnquiryReply.Status.QUEUED
    reply.last_error = ""
    reply.save(update_fields=["email", "status", "last_error", "updated_at"])
    return email


def enquiry_reply_prepare(*, work: jobs.JobRun) -> None:
    """The "reply.prepare" job: stamp a fresh sample for the contact (outside any
    transaction: it can take seconds), then queue the email with the reply's status change.
    A reply no longer "preparing" is left alone; while the base PDF is still rendering the
    job tries again with backoff."""

    reply = EnquiryReply.objects.select_related("enquiry__report", "enquiry__contact")
    reply = reply.get(pk=work.target_id)
    if reply.status != EnquiryReply.Status.PREPARING:
        return
    try:
        path = reply.sample_path or _reply_sample_stamp(reply)
    except DocumentNotReady as exc:
        raise jobs.Retry(
            f"The report's base sample is not rendered yet ({exc}).", after=exc.render_job
        ) from exc
    with work.completing():
        reply = EnquiryReply.objects.select_for_update().get(pk=reply.pk)
        if reply.status != EnquiryReply.Status.PREPARING:
            # Erased (or withdrawn) while stamping: the copy names the person; not kept.
            if path != reply.sample_path:
                private_files_delete_later([path])
            return
        reply.sample_path = path
        reply.save(update_fields=["sample_path", "updated_at"])
        enquiry_reply_email_queue(reply=reply)


def _reply_sample_stamp(reply: EnquiryReply) -> str:
    enquiry = reply.enquiry
    return sample_copy_create(
        report=enquiry.report,
        name=enquiry.contact.name,
        company=enquiry.contact.company,
        prepared_on=timezone.localdate(),
        path_hint=f"enquiry-replies/{enquiry.pk}-{reply.pk}",
    )


def enquiry_reply_give_up(reply_id: int, error: str) -> None:
    """The job's last attempt failed: the reply is "failed", shown in the thread with a
    retry button."""
    reply = EnquiryReply.objects.select_for_update().get(pk=reply_id)
    if reply.status == EnquiryReply.Status.PREPARING:
        reply.status = EnquiryReply.Status.FAILED
        reply.last_error = error
        reply.save(update_fields=["status", "last_error", "updated_at"])


@transaction.atomic
def enquiry_reply_retry(*, reply: EnquiryReply) -> EnquiryReply:
    """Staff action on a failed reply: try preparing it again with a fresh attempt budget."""
    reply = EnquiryReply.objects.select_for_update().get(pk=reply.pk)
    if reply.status != EnquiryReply.Status.FAILED:
        return reply
    reply.status = EnquiryReply.Status.PREPARING
    reply.last_error = ""
    reply.save(update_fields=["status", "last_error", "updated_at"])
    jobs.enqueue(REPLY_JOB, target_id=reply.pk, restart=True)
    return reply


@transaction.atomic
def enquiry_quote_revoke(*, reply: EnquiryReply, actor) -> EnquiryReply:
    """Staff withdraw a special price: its checkout link stops working at once (orders
    already paid are not affected). Withdrawing twice changes nothing."""
    reply = EnquiryReply.objects.select_for_update().get(pk=reply.pk)
    if reply.quoted_price is None or reply.quote_revoked_at:
        return reply
    reply.quote_revoked_at = timezone.now()
    reply.quote_revoked_by = actor
    reply.full_clean()
    reply.save(update_fields=["quote_revoked_at", "quote_revoked_by", "updated_at"])
    return reply


def quote_reply_find(data: dict) -> EnquiryReply | None:
    """The reply a signed quote names (orders/quotes.py reads its terms from it)."""
    replies = EnquiryReply.objects.select_related("enquiry__report", "enquiry__contact", "licence")
    if "q" in data:
        return replies.filter(pk=data["q"]).first() if isinstance(data["q"], int) else None
    # Links signed before quotes named their reply carry the terms: the newest reply that
    # quoted exactly them is the quote (so it can be withdrawn like any other).
    try:
        terms = {
            "enquiry__report__number": int(data["r"]),
            "licence__kind": str(data["l"]),
            "quoted_price": Decimal(str(data["p"])),
            "quoted_currency": str(data["c"]),
            "enquiry__contact__email": str(data["e"]),
        }
    except (KeyError, ValueError, ArithmeticError):
        return None
    return replies.filter(**terms).order_by("-pk").first()


# --- Upcoming reports -----------------------------------------------------------------------


def enquiries_notify_report_published(*, work: jobs.JobRun) -> None:
    """The "report.published" job: tell everyone who asked about the report while it was
    upcoming that it is published, one email per enquirer (however many enquiries they
    sent), exactly once: each contact's notice is its own transaction, so a rerun after a
    failure picks up where the last one stopped."""
    report = Report.objects.get(pk=work.target_id)
    if report.status != Report.Status.PUBLISHED:
        return
    pending = (
        Enquiry.objects.filter(
            report=report, about_upcoming_report=True, notified_on_publish_at__isnull=True
        )
        .exclude(status=Enquiry.Status.SPAM)
        .order_by("contact_id", "pk")
    )
    for contact_id, enquiries in groupby(pending, key=lambda e: e.contact_id):
        _publication_notice_queue(
            report=report, contact_id=contact_id, enquiry_ids=[e.pk for e in enquiries]
        )


@transaction.atomic
def _publication_notice_queue(*, report: Report, contact_id: int, enquiry_ids: list[int]) -> int:
    """One contact's notice, under a lock on their enquiries so concurrent runs queue it
    once; the dedupe key guards the email itself as well."""
    locked = list(
        Enquiry.objects.select_for_update()
        .filter(pk__in=enquiry_ids, notified_on_publish_at__isnull=True)
        .select_related("contact")
    )
    if not locked:
        return 0
    email_queue(
        to=locked[0].contact.email,
        template="enquiries/email/report_published",
        context={
            "contact": locked[0].contact,
            "report": report,
            "report_url": settings.SITE_URL + report.get_absolute_url(),
            "purchase_url": settings.SITE_URL + reverse("orders:purchase", args=[report.number]),
        },
        related=locked[0],
        contact=locked[0].contact,
        reply_to=reply_to_address(locked[0].owner),
        dedupe_key=f"report-published:{report.pk}:contact:{contact_id}",
    )
    # update() on purpose: this is bookkeeping, not a status change for the history.
    Enquiry.objects.filter(pk__in=[e.pk for e in locked]).update(
        notified_on_publish_at=timezone.now()
    )
    return 1


def enquiries_notify_report_published_on_commit(*, report: Report) -> None:
    """Call inside the transaction where a report becomes published: its enquirers are told
    by a worker once it commits (again for a report published a second time)."""
    jobs.enqueue(PUBLISHED_JOB, target_id=report.pk, restart=True)

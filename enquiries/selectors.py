"""Reads for the lead pages and the sales inbox: a sample request's status, an enquiry's whole
thread and a contact's whole journey."""

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlparse

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.timesince import timesince

from common import jobs
from common.models import Job
from contacts.models import Contact, OutboundEmail
from reports.models import Report

from .models import Enquiry, EnquiryReply, FollowUp, FollowUpEvent, InboundEmail, SampleRequest

# --- Pre-order enquiries (issue 5) --------------------------------------------------------


@dataclass
class ThreadItem:
    """One entry of an enquiry's thread, oldest first. `kind` picks the template part:
    "question", "reply", "email" (automatic emails), "inbound" (the customer's emails read
    from the inbound mailbox) or "change" (status/owner history)."""

    kind: str
    at: datetime
    reply: EnquiryReply | None = None
    email: OutboundEmail | None = None
    inbound: InboundEmail | None = None
    actor: str = ""
    changes: list[str] = field(default_factory=list)


def enquiry_thread(*, enquiry: Enquiry) -> list[ThreadItem]:
    """The question, each reply (with its email's delivery status), every automatic email
    about the enquiry and every status or owner change, in time order."""
    replies = list(
        jobs.with_job(enquiry.replies.all(), "reply.prepare")
        .select_related("author", "licence", "template")
        .order_by("created_at", "pk")
    )
    emails = {email.pk: email for email in enquiry_emails(enquiry=enquiry)}
    reply_emails = jobs.with_job(
        OutboundEmail.objects.filter(pk__in=[r.email_id for r in replies if r.email_id]),
        "mail.send",
    )
    reply_emails = {email.pk: email for email in reply_emails}
    for reply in replies:
        reply.delivery = reply_emails.get(reply.email_id)
    reply_email_ids = set(reply_emails)
    items = [ThreadItem(kind="question", at=enquiry.created_at)]
    items += [ThreadItem(kind="reply", at=r.created_at, reply=r) for r in replies]
    items += [
        ThreadItem(kind="email", at=email.created_at, email=email)
        for email in emails.values()
        if email.pk not in reply_email_ids
    ]
    items += [
        ThreadItem(kind="inbound", at=inbound.received_at, inbound=inbound)
        for inbound in enquiry.inbound_emails.select_related("assigned_by").order_by("pk")
    ]
    items += enquiry_changes(enquiry=enquiry)
    return sorted(items, key=lambda item: (item.at, item.kind != "question"))


def enquiry_emails(*, enquiry: Enquiry) -> QuerySet[OutboundEmail]:
    """The enquiry's automatic emails, each with its "mail.send" job's state (`with_job`)."""
    emails = OutboundEmail.objects.filter(
        related_type=ContentType.objects.get_for_model(Enquiry), related_id=str(enquiry.pk)
    )
    return jobs.with_job(emails, "mail.send").order_by("created_at", "pk")


def enquiry_changes(*, enquiry: Enquiry) -> list[ThreadItem]:
    """Status and owner changes from the history, with who made them (blank: the system)."""
    records = list(enquiry.history.select_related("history_user").order_by("history_date", "pk"))
    owner_ids = {r.owner_id for r in records if r.owner_id}
    owners = {u.pk: _user_name(u) for u in get_user_model().objects.filter(pk__in=owner_ids)}
    items, previous = [], None
    for record in records:
        changes = _record_changes(previous, record, owners)
        if changes:
            actor = _user_name(record.history_user) if record.history_user else ""
            items.append(
                ThreadItem(kind="change", at=record.history_date, actor=actor, changes=changes)
            )
        previous = record
    return items


def _record_changes(previous, record, owners: dict) -> list[str]:
    status = Enquiry.Status(record.status).label
    owner = owners.get(record.owner_id, "nobody")
    if previous is None:
        return [f"status {status}"] + ([f"owner {owner}"] if record.owner_id else [])
    changes = []
    if record.status != previous.status:
        changes.append(f"status {Enquiry.Status(previous.status).label} → {status}")
    if record.owner_id != previous.owner_id:
        changes.append(f"owner {owners.get(previous.owner_id, 'nobody')} → {owner}")
    return changes


def _user_name(user) -> str:
    return user.get_full_name() or user.get_username()


# --- A contact's whole journey --------------------------------------------------------------

# Related managers on Contact that make up a journey. Those another part of the site hasn't
# added (yet) are skipped, so this works before and after sample requests and orders exist.
JOURNEY_RELATIONS = (
    ("sample_requests", "Requested the sample"),
    ("enquiries", "Sent an enquiry"),
    ("orders", "Placed an order"),
)


@dataclass
class JourneyStep:
    at: datetime | None
    action: str
    label: str
    report: object
    source: str
    status: str
    admin_url: str

    @property
    def ago(self) -> str:
        return f"{timesince(self.at, depth=1)} ago" if self.at else ""

    @property
    def sentence(self) -> str:
        """E.g. "Requested the sample 12 days ago from the linkedin-spring campaign"."""
        return " ".join(part for part in (self.action, self.ago, self.source) if part)


def contact_journey(*, contact: Contact) -> list[JourneyStep]:
    """Every sample request, enquiry and order of a contact, newest first, each with the
    campaign that brought it ("from the spring-launch campaign (linkedin / social)")."""
    steps = []
    for relation, action in JOURNEY_RELATIONS:
        manager = getattr(contact, relation, None)
        if manager is None:
            continue
        rows = manager.all()
        if any(f.name == "report" for f in rows.model._meta.get_fields()):
            rows = rows.select_related("report")
        steps += [_journey_step(obj, action) for obj in rows]
    return sorted(steps, key=lambda s: s.at.timestamp() if s.at else 0, reverse=True)


def _journey_step(obj, action: str) -> JourneyStep:
    status = obj.get_status_display() if hasattr(obj, "get_status_display") else ""
    return JourneyStep(
        at=getattr(obj, "created_at", None),
        action=action,
        label=getattr(obj, "reference", None) or str(obj),
        report=getattr(obj, "report", None),
        source=source_phrase(obj),
        status=status,
        admin_url=_admin_change_url(obj),
    )


def source_phrase(obj) -> str:
    """Where a lead or order came from, in words."""
    campaign = getattr(obj, "utm_campaign", "")
    source = getattr(obj, "utm_source", "")
    medium = getattr(obj, "utm_medium", "")
    channel = " / ".join(part for part in (source, medium) if part)
    if campaign:
        return f"from the {campaign} campaign" + (f" ({channel})" if channel else "")
    if channel:
        return f"from {channel}"
    referrer = urlparse(getattr(obj, "referrer", "") or "").netloc
    return f"via {referrer}" if referrer else "direct"


def _admin_change_url(obj) -> str:
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


# --- Visitor-facing lead pages (sample requests) ------------------------------------------


def report_get_for_sample(*, number: int) -> Report | None:
    """Published and upcoming reports take sample requests (an upcoming report's sample is
    its outline); drafts and unknown numbers do not."""
    return (
        Report.objects.filter(
            number=number, status__in=[Report.Status.PUBLISHED, Report.Status.UPCOMING]
        )
        .select_related("category")
        .first()
    )


def sample_request_get_by_token(*, token: str) -> SampleRequest | None:
    if not token or len(token) > 64:
        return None
    return SampleRequest.objects.filter(public_token=token).select_related("report").first()


def sample_request_email_retrying(*, sample_request: SampleRequest) -> bool:
    """Whether the sample's email is waiting for a retry (the recipient's server refused it
    for now): the status page says so instead of just "sending"."""
    emails = OutboundEmail.objects.filter(
        related_id=str(sample_request.pk),
        related_type__app_label="enquiries",
        related_type__model="samplerequest",
        template="enquiries/email/sample_request",
        status=OutboundEmail.Status.QUEUED,
    )
    return Job.objects.filter(
        kind="mail.send",
        target_id__in=emails.values("pk"),
        state=Job.State.PENDING,
        attempts__gt=0,
    ).exists()


# --- Co-interest for related reports (issue 25) ---------------------------------------------


def sample_co_interest(min_people: int) -> list[tuple[int, int, int]]:
    """(report, other report, people) for every ordered pair of reports whose samples at least
    `min_people` distinct people both requested: the "readers who requested this sample also
    requested" counts of reports/services/related.py. One grouped self-join; people whose
    data was erased are not counted."""
    table = SampleRequest._meta.db_table
    contacts = Contact._meta.db_table
    sql = (
        "SELECT a.report_id, b.report_id, COUNT(DISTINCT a.contact_id) "  # noqa: S608
        f"FROM {table} a JOIN {table} b "
        "ON a.contact_id = b.contact_id AND a.report_id <> b.report_id "
        f"JOIN {contacts} c ON c.id = a.contact_id WHERE c.erased_at IS NULL "
        "GROUP BY a.report_id, b.report_id HAVING COUNT(DISTINCT a.contact_id) >= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [min_people])
        return [tuple(row) for row in cursor.fetchall()]


def contact_followups(*, contact: Contact):
    """The person's sample follow-ups, each with its events (sent, skipped, stopped, why)."""
    return (
        FollowUp.objects.filter(contact=contact)
        .select_related("sample_request__report")
        .prefetch_related(
            Prefetch("events", queryset=FollowUpEvent.objects.select_related("step", "email"))
        )
        .order_by("-started_at")
    )

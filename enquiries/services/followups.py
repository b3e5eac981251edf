"""Follow-ups after a sample: a short sequence of emails (FollowUpStep, edited in admin) to
people who ticked the marketing box on the sample form.

- `followup_start` (from `sample_request_create`): a sequence per sample request, only with
  marketing consent, and only one running per person at a time.
- `followups_send_due(now=…)` (Celery beat, FOLLOWUP_SWEEP_INTERVAL_SECONDS) takes every
  running sequence whose next step is due at `now`: stops it for good if the person enquired,
  bought, unsubscribed or was erased since it started; waits for their working hours
  (contacts/services/send_window.py); otherwise queues the step through the marketing-email
  mechanism (contacts/services/marketing.py: consent checked again at send time, one-click
  unsubscribe headers). Every step sent, skipped or suppressed is a FollowUpEvent, which
  staff read on the contact's page. `now` is the clock: the beat task passes none (the
  current time), tests pass their own.
- `followups_stop` ends a person's sequences: an enquiry (at once, in `enquiry_create`), or
  staff taking the lead (admin).
- Replies are tracked, opens are not. With INBOUND_ADDRESS set, each step's Reply-To is the
  sequence's own signed address on the inbound mailbox (sales+f45.<signature>@…,
  enquiries/services/mail_thread.py; shown as the sales desk on steps marked "reply-to the
  sales desk"). The mailbox poll (enquiries/services/inbound.py) recognises a reply by that
  address or by the step's Message-ID in In-Reply-To/References, and
  `followup_reply_record` records it: a "replied" event, the sequence stopped for good, and
  the lead's owner (sales registers the finder) or the sales inbox emailed with the reply.
  Without INBOUND_ADDRESS, steps marked "reply-to the sales desk" reply to SALES_INBOX_EMAIL
  and replies are not tracked.

Opens are not tracked: no pixels, no rewritten links."""

import logging
from collections.abc import Callable
from datetime import timedelta
from email.utils import formataddr

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from common.text import CONTROL_CHARS
from contacts.models import Contact, OutboundEmail
from contacts.services.marketing import MARKETING, marketing_block_reason, marketing_email_queue
from contacts.services.outbox import email_outcome_register, email_queue
from contacts.services.send_window import send_window_next
from orders.models import Order

from ..models import Enquiry, FollowUp, FollowUpEvent, FollowUpStep, InboundEmail, SampleRequest
from .mail_thread import followup_address

logger = logging.getLogger(__name__)
TEMPLATE = "enquiries/email/followup"
REPLIED_TEMPLATE = "enquiries/email/followup_replied"
Outcome = FollowUpEvent.Outcome
PAID = (Order.Status.PAID, Order.Status.FULFILLED)

# The default sequence (the data migration writes it; staff edit it in admin).
DEFAULT_STEPS = (
    {
        "position": 1,
        "name": "Any questions?",
        "delay_days": 2,
        "reply_to_sales": False,
        "subject": "Any questions about {{ report.title }}?",
        "body": (
            "Dear {{ first_name }},\n\n"
            "Two days ago you asked for the free sample of {{ report.title }}. If anything in "
            "it raised a question, just reply to this email.\n\n"
            "Here is what the full report covers:\n"
            "{% for entry in toc %}- {{ entry.title }}\n{% endfor %}\n"
            "The full report: {{ report_url }}\n\n"
            "Kind regards,\n{{ PUBLISHER_NAME }}"
        ),
    },
    {
        "position": 2,
        "name": "Licence prices",
        "delay_days": 7,
        "reply_to_sales": True,
        "subject": "{{ report.title }}: licences and prices",
        "body": (
            "Dear {{ first_name }},\n\n"
            "Should you want the full {{ report.title }}, these are its licences:\n"
            "{% for licence in licences %}- {{ licence.get_kind_display }}: "
            "USD {{ licence.price|floatformat:0 }} · EUR {{ licence.price_eur|floatformat:0 }} · "
            "GBP {{ licence.price_gbp|floatformat:0 }} ({{ licence.description }})\n"
            "{% endfor %}\n"
            "Buy online: {{ buy_url }}\n"
            "Reply to this email to reach our sales desk ({{ sales_email }}) for a quote, an "
            "invoice or a custom cut of the data.\n\n"
            "Kind regards,\n{{ PUBLISHER_NAME }}"
        ),
    },
)


def followup_steps_default_create(step_model=FollowUpStep) -> None:
    """Write the default sequence (the data migration passes its historical model)."""
    for step in DEFAULT_STEPS:
        step_model.objects.get_or_create(position=step["position"], defaults=step)


# --- Starting and stopping ----------------------------------------------------------------


def followup_start(*, sample_request: SampleRequest) -> FollowUp | None:
    """In the caller's transaction. None without marketing consent, without any active step,
    or while another sequence runs for the same person."""
    contact = sample_request.contact
    if marketing_block_reason(contact=contact, purpose=MARKETING):
        return None
    if FollowUp.objects.filter(contact=contact, status=FollowUp.Status.ACTIVE).exists():
        return None
    first = _step_from(0)
    if first is None:
        return None
    started = sample_request.created_at or timezone.now()
    return FollowUp.objects.create(
        sample_request=sample_request,
        contact=contact,
        started_at=started,
        next_position=first.position,
        next_due_at=started + timedelta(days=first.delay_days),
    )


def followups_stop(*, contact: Contact, reason: str) -> int:
    """End every running sequence of the person, for good. Returns how many."""
    stopped = 0
    for follow_up in FollowUp.objects.select_for_update().filter(
        contact=contact, status=FollowUp.Status.ACTIVE
    ):
        _stop(follow_up, reason)
        stopped += 1
    return stopped


@transaction.atomic
def followup_stop(*, follow_up: FollowUp, reason: str) -> bool:
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.status != FollowUp.Status.ACTIVE:
        return False
    _stop(follow_up, reason)
    return True


def _stop(follow_up: FollowUp, reason: str) -> None:
    follow_up.status = FollowUp.Status.STOPPED
    follow_up.stop_reason = reason[:300]
    follow_up.stopped_at = timezone.now()
    follow_up.next_due_at = None
    follow_up.save(update_fields=["status", "stop_reason", "stopped_at", "next_due_at"])
    FollowUpEvent.objects.create(
        follow_up=follow_up,
        step=_step_from(follow_up.next_position),
        outcome=Outcome.STOPPED,
        reason=reason[:300],
    )


# --- The beat task's side -----------------------------------------------------------------


def followups_send_due(*, now=None) -> int:
    """Queue every step due at `now`; returns how many emails were queued."""
    now = now or timezone.now()
    due = FollowUp.objects.filter(status=FollowUp.Status.ACTIVE, next_due_at__lte=now)
    ids = list(due.order_by("next_due_at").values_list("pk", flat=True)[: settings.FOLLOWUP_BATCH])
    return sum(_advance(follow_up_id=pk, now=now) for pk in ids)


@transaction.atomic
def _advance(*, follow_up_id: int, now) -> int:
    follow_up = (
        FollowUp.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contact", "sample_request__report")
        .filter(pk=follow_up_id, status=FollowUp.Status.ACTIVE)
        .first()
    )
    if follow_up is None:
        return 0  # another run has it, or it ended meanwhile
    reason = _stop_reason(follow_up)
    if reason:
        _stop(follow_up, reason)
        return 0
    step = _step_from(follow_up.next_position)
    if step is None:
        return _finish(follow_up)
    send_at = send_window_next(
        at=max(now, follow_up.started_at + timedelta(days=step.delay_days)),
        country=follow_up.contact.country,
    )
    if send_at > now:  # not its day yet (a delay edited), or outside working hours
        follow_up.next_due_at = send_at
        follow_up.save(update_fields=["next_due_at"])
        return 0
    email = _queue(follow_up, step)
    FollowUpEvent.objects.create(
        follow_up=follow_up, step=step, outcome=Outcome.QUEUED, email=email
    )
    _schedule_after(follow_up, step)
    return 1


def _stop_reason(follow_up: FollowUp) -> str:
    """Why the sequence must end now ("" to go on), checked before every step."""
    contact, since = follow_up.contact, follow_up.started_at
    enquiry = Enquiry.objects.filter(contact=contact, created_at__gte=since).order_by("pk").first()
    if enquiry is not None:
        return f"Enquired ({enquiry.reference})."
    order = (
        Order.objects.filter(contact=contact, status__in=PAID, paid_at__gte=since)
        .order_by("pk")
        .first()
    )
    if order is not None:
        return f"Bought ({order.reference})."
    return marketing_block_reason(contact=contact, purpose=MARKETING)


def _step_from(position: int) -> FollowUpStep | None:
    return (
        FollowUpStep.objects.filter(is_active=True, position__gte=position)
        .order_by("position", "pk")
        .first()
    )


def _schedule_after(follow_up: FollowUp, step: FollowUpStep) -> None:
    following = _step_from(step.position + 1)
    if following is None:
        _finish(follow_up)
        return
    follow_up.next_position = following.position
    follow_up.next_due_at = send_window_next(
        at=follow_up.started_at + timedelta(days=following.delay_days),
        country=follow_up.contact.country,
    )
    follow_up.save(update_fields=["next_position", "next_due_at"])


def _finish(follow_up: FollowUp) -> int:
    follow_up.status = FollowUp.Status.FINISHED
    follow_up.next_due_at = None
    follow_up.save(update_fields=["status", "next_due_at"])
    return 0


def _queue(follow_up: FollowUp, step: FollowUpStep) -> OutboundEmail | None:
    subject, body = followup_step_render(step=step, sample_request=follow_up.sample_request)
    return marketing_email_queue(
        contact=follow_up.contact,
        purpose=MARKETING,
        template=TEMPLATE,
        context={"subject": subject, "body": body},
        related=follow_up,
        reply_to=followup_reply_to(follow_up=follow_up, step=step),
        dedupe_key=f"followup:{follow_up.pk}:{step.pk}",
    )


def followup_reply_to(*, follow_up: FollowUp, step: FollowUpStep) -> str:
    """The sequence's own address on the inbound mailbox (so a reply is recognised and the
    sales desk hears of it), named for the sales desk when the step says so; without
    INBOUND_ADDRESS, the sales inbox or (empty) the From address."""
    address = followup_address(follow_up.pk)
    if not address:
        return settings.SALES_INBOX_EMAIL if step.reply_to_sales else ""
    name = settings.PUBLISHER_NAME + (" sales desk" if step.reply_to_sales else "")
    return formataddr((CONTROL_CHARS.sub("", name), address))


# --- A reply, read from the inbound mailbox -----------------------------------------------


def followup_reply_record(*, follow_up: FollowUp, inbound: InboundEmail) -> bool:
    """In the transaction that stores the reply (enquiries/services/inbound.py): a "replied"
    event, the sequence stopped for good (whatever step it was on), and the sales inbox
    emailed with the reply (or the person's lead's owner: `followup_reply_recipient`).
    Returns False for an auto-reply (out of office): it is kept but changes nothing."""
    if inbound.automatic:
        return False
    follow_up = FollowUp.objects.select_for_update().select_related("contact").get(pk=follow_up.pk)
    FollowUpEvent.objects.create(
        follow_up=follow_up,
        outcome=Outcome.REPLIED,
        reason=f"Replied: {inbound.subject or '(no subject)'}"[:300],
        inbound=inbound,
    )
    if follow_up.status == FollowUp.Status.ACTIVE:
        _stop(follow_up, f"Replied to a follow-up email (inbound email {inbound.pk}).")
    _reply_notification_queue(follow_up=follow_up, inbound=inbound)
    return True


# Who hears of a reply besides the default: a higher app registers a finder (sales: the
# owner of the person's lead), `find(contact)` -> an address or "" (then SALES_INBOX_EMAIL).
_reply_recipient_finders: list[Callable[[Contact], str]] = []


def followup_reply_recipient_register(find: Callable[[Contact], str]) -> None:
    if find not in _reply_recipient_finders:
        _reply_recipient_finders.append(find)


def followup_reply_recipient(*, contact: Contact) -> str:
    for find in _reply_recipient_finders:
        address = find(contact)
        if address:
            return address
    return settings.SALES_INBOX_EMAIL


def _reply_notification_queue(*, follow_up: FollowUp, inbound: InboundEmail):
    to = followup_reply_recipient(contact=follow_up.contact)
    if not to:
        return None
    site = settings.SITE_URL
    return email_queue(
        to=to,
        template=REPLIED_TEMPLATE,
        context={
            "follow_up": follow_up,
            "contact": follow_up.contact,
            "report": follow_up.sample_request.report,
            "inbound": inbound,
            "inbound_url": site + reverse("admin:enquiries_inboundemail_change", args=[inbound.pk]),
            "follow_up_url": site + reverse("admin:enquiries_followup_change", args=[follow_up.pk]),
        },
        related=follow_up,
        dedupe_key=f"followup-replied:{inbound.pk}",
    )


# --- Rendering (also the admin's preview) -------------------------------------------------


def followup_context(*, sample_request: SampleRequest) -> dict:
    report, site = sample_request.report, settings.SITE_URL
    return {
        "first_name": (sample_request.name.split() or [""])[0],
        "name": sample_request.name,
        "company": sample_request.company,
        "report": report,
        "toc": list(report.toc_entries.filter(level=1).order_by("position", "pk")),
        "licences": list(report.licences.filter(is_active=True).order_by("position", "pk")),
        "report_url": site + report.get_absolute_url(),
        "buy_url": site + reverse("orders:purchase", args=[report.number]),
        "ask_url": site + reverse("enquiries:pre-order-enquiry", args=[report.number]),
        "sales_email": settings.SALES_INBOX_EMAIL,
        "PUBLISHER_NAME": settings.PUBLISHER_NAME,
    }


def followup_step_render(*, step: FollowUpStep, sample_request: SampleRequest) -> tuple[str, str]:
    """(subject, body) of `step` for `sample_request`, as text (no HTML escaping)."""
    context = followup_context(sample_request=sample_request)
    engine = engines["text"]
    subject = " ".join(engine.from_string(step.subject).render(context).split())
    return subject, engine.from_string(step.body).render(context)


# --- Suppressed at send time --------------------------------------------------------------


def followup_record_outcome(email: OutboundEmail) -> None:
    """A step's email that the send-time check stopped (unsubscribed or erased while it was
    queued): recorded on the sequence, which ends for good."""
    if email.status != OutboundEmail.Status.SUPPRESSED or not email.related_id:
        return
    if email.related_type_id != ContentType.objects.get_for_model(FollowUp).pk:
        return
    follow_up = FollowUp.objects.select_for_update().filter(pk=email.related_id).first()
    if follow_up is None:
        return
    FollowUpEvent.objects.create(
        follow_up=follow_up, outcome=Outcome.SUPPRESSED, reason=email.last_error[:300], email=email
    )
    if follow_up.status == FollowUp.Status.ACTIVE:
        _stop(follow_up, email.last_error)


email_outcome_register(template=TEMPLATE, handler=followup_record_outcome)

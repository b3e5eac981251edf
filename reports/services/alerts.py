"""Alerts for new reports: "tell me about new reports in <category>".

1. `alert_subscribe` (the form on category and report pages) records the wish and emails a
   confirmation link. Nothing else is ever sent before that link is followed (double opt-in).
2. `alert_confirm` (the link, then a button: link scanners only GET) starts the alert and
   records the consent with its words.
3. `alerts_digest_send` (Celery beat) sends each person at most one digest per
   ALERT_DIGEST_INTERVAL_DAYS, listing the reports published in their categories since their
   last digest (or since they confirmed), through the one marketing-email mechanism
   (contacts/services/marketing.py, purpose "alerts"): checked again at send time, with its
   own one-click unsubscribe (which ends every alert of that person).
"""

from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.services.contacts import contact_upsert
from contacts.services.marketing import (
    Purpose,
    Source,
    marketing_consent_record,
    marketing_email_queue,
    marketing_purpose_register,
)
from contacts.services.outbox import email_queue

from ..models import AlertSubscription, Category, Report

ALERTS = "alerts"
ALERT_CONSENT_VERSION = "2026-12"
ALERT_CONSENT_TEXT = "Email me about new reports in {category} from {publisher}, at most weekly."
CONFIRM_TEMPLATE = "reports/email/alert_confirm"
DIGEST_TEMPLATE = "reports/email/alert_digest"
CONFIRM_SALT = "reports.alerts.confirm"


def _consent_text(category: Category) -> str:
    return ALERT_CONSENT_TEXT.format(category=category.name, publisher=settings.PUBLISHER_NAME)


@transaction.atomic
def alert_subscribe(*, email: str, category: Category, ip: str = "") -> AlertSubscription:
    """Record the wish and queue the confirmation email. An alert already running is left as
    it is and nothing is sent (so the form can't be used to mail someone again and again)."""
    contact = contact_upsert(email=email)
    subscription, _ = AlertSubscription.objects.select_for_update().get_or_create(
        contact=contact, category=category, defaults={"ip": ip}
    )
    if subscription.is_active:
        return subscription
    subscription.requested_at = timezone.now()
    subscription.ip = ip
    subscription.save(update_fields=["requested_at", "ip"])
    token = alert_confirm_token(subscription)
    email_queue(
        to=contact.email,
        template=CONFIRM_TEMPLATE,
        context={
            "category": category,
            "consent_text": _consent_text(category),
            "confirm_url": settings.SITE_URL + reverse("reports:alert-confirm", args=[token]),
            "confirm_days": settings.ALERT_CONFIRM_DAYS,
        },
        related=subscription,
        contact=contact,
        dedupe_key=f"alert-confirm:{subscription.pk}:{subscription.requested_at.timestamp():.0f}",
    )
    return subscription


def alert_confirm_token(subscription: AlertSubscription) -> str:
    return signing.TimestampSigner(salt=CONFIRM_SALT).sign(str(subscription.pk))


def alert_confirm_token_load(token: str) -> AlertSubscription | None:
    try:
        pk = signing.TimestampSigner(salt=CONFIRM_SALT).unsign(
            token, max_age=timedelta(days=settings.ALERT_CONFIRM_DAYS)
        )
    except signing.BadSignature:
        return None
    return AlertSubscription.objects.select_related("category", "contact").filter(pk=pk).first()


@transaction.atomic
def alert_confirm(*, subscription: AlertSubscription, ip: str = "") -> AlertSubscription:
    subscription = AlertSubscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.is_active or subscription.contact.erased_at:
        return subscription
    subscription.confirmed_at = timezone.now()
    subscription.ended_at = None
    subscription.save(update_fields=["confirmed_at", "ended_at"])
    marketing_consent_record(
        contact=subscription.contact,
        purpose=ALERTS,
        topic=subscription.category.slug,
        granted=True,
        source=Source.ALERT_CONFIRMATION,
        wording=_consent_text(subscription.category),
        version=ALERT_CONSENT_VERSION,
        ip=ip,
    )
    return subscription


# --- The "alerts" purpose of marketing email ----------------------------------------------


def _alerts_block_reason(contact: Contact) -> str:
    active = contact.alerts.filter(confirmed_at__isnull=False, ended_at__isnull=True)
    return "" if active.exists() else "No confirmed alert for new reports."


def alerts_end(contact: Contact, source: str) -> None:
    """Unsubscribing from alerts ends every running one, each recorded in the history."""
    now = timezone.now()
    for subscription in contact.alerts.filter(
        confirmed_at__isnull=False, ended_at__isnull=True
    ).select_related("category"):
        subscription.ended_at = now
        subscription.save(update_fields=["ended_at"])
        marketing_consent_record(
            contact=contact,
            purpose=ALERTS,
            topic=subscription.category.slug,
            granted=False,
            source=source,
        )


marketing_purpose_register(
    Purpose(
        name=ALERTS,
        label="Alerts for new reports in the categories I chose",
        block_reason=_alerts_block_reason,
        withdraw=alerts_end,
    )
)


# --- The digest ---------------------------------------------------------------------------


def alerts_digest_send(*, now=None) -> int:
    """Queue the digests that are due at `now` (the beat task passes none: the current
    time; tests pass their own clock). Returns how many were queued."""
    now = now or timezone.now()
    running = (
        AlertSubscription.objects.filter(confirmed_at__isnull=False, ended_at__isnull=True)
        .select_related("category")
        .order_by("contact_id", "category__name")
    )
    queued = 0
    for contact_id, subscriptions in groupby(running, key=lambda s: s.contact_id):
        queued += _digest_for(contact_id=contact_id, subscriptions=list(subscriptions), now=now)
    return queued


@transaction.atomic
def _digest_for(*, contact_id: int, subscriptions: list[AlertSubscription], now) -> int:
    contact = Contact.objects.select_for_update().get(pk=contact_id)
    last = (
        contact.alerts.filter(last_digest_at__isnull=False)
        .order_by("-last_digest_at")
        .values_list("last_digest_at", flat=True)
        .first()
    )
    if last is not None and now - last < timedelta(days=settings.ALERT_DIGEST_INTERVAL_DAYS):
        return 0
    sections = [
        (subscription.category, list(_published_since(subscription, now)))
        for subscription in subscriptions
    ]
    sections = [(category, reports) for category, reports in sections if reports]
    if not sections:
        return 0
    email = marketing_email_queue(
        contact=contact,
        purpose=ALERTS,
        template=DIGEST_TEMPLATE,
        context={"sections": sections, "SITE_URL": settings.SITE_URL},
        dedupe_key=f"alerts-digest:{contact.pk}:{now.timestamp():.0f}",
    )
    if email is None:
        return 0
    AlertSubscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(
        last_digest_at=now
    )
    return 1


def _published_since(subscription: AlertSubscription, now):
    since = max(filter(None, (subscription.confirmed_at, subscription.last_digest_at)))
    return Report.objects.filter(
        category_id=subscription.category_id,
        status=Report.Status.PUBLISHED,
        published_at__gt=since,
        published_at__lte=now,
    ).order_by("-published_at", "title")[: settings.ALERT_DIGEST_MAX_REPORTS]

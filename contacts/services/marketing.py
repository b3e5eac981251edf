"""Marketing email: consent, the send-time check, unsubscribing. The one way the site sends
anything a person did not ask for this minute (follow-ups after a sample, new-report alerts,
an abandoned-checkout reminder).

The API, for any app that sends marketing:

    marketing_email_queue(*, contact, purpose, template, context, related=None,
                          reply_to="", dedupe_key=None) -> OutboundEmail | None

  Queues the email through the outbox (contacts/services/outbox.py) with `purpose` on the
  row, or returns None (nothing queued) when `marketing_block_reason` says the person may
  not receive it now. `purpose` is "marketing" (the tick box on the sample, enquiry and
  purchase forms: follow-ups, checkout reminders) or one an app registered with
  `marketing_purpose_register` (reports registers "alerts"). The template renders with
  `unsubscribe_url` and `preferences_url` in its context; include
  "contacts/email/marketing_footer.txt" (and .html) at the end of the body.

    marketing_block_reason(*, contact, purpose) -> str

  "" when the person may be sent this purpose's email now; otherwise why not (erased, no
  consent, unsubscribed). The outbox asks the same question again at SEND time (the guard
  below): an email queued before the person unsubscribed or was erased is never sent; its
  row ends "suppressed" with the reason, and the owner's outcome handler hears of it.

    marketing_consent_record(*, contact, purpose="marketing", granted, source, wording="",
                             version="", topic="", ip="") -> MarketingConsent

  Appends to the person's consent history (never overwrites); the latest row is in force.

Every marketing email carries `List-Unsubscribe: <https://…/email/unsubscribe/<token>>`
(plus `<mailto:…>` when MARKETING_UNSUBSCRIBE_MAILTO is set) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): one POST to that URL, with no
CSRF token and no confirmation page, withdraws the purpose. The token is signed
(django.core.signing), names the contact and the purpose, and does not expire: an old
email's link must still work. The same token opens the preferences page (no sign-in).
https://www.rfc-editor.org/rfc/rfc8058
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, MarketingConsent, OutboundEmail

from .outbox import email_guard_register, email_queue

MARKETING = "marketing"
# The words on each form's (unticked) marketing box; a new wording gets a new version.
MARKETING_CONSENT_VERSION = "2026-12"
MARKETING_CONSENT_TEXT = (
    "Also email me now and then about this report and related research from {publisher} "
    "(optional; one click unsubscribes)."
)
TOKEN_SALT = "contacts.marketing.unsubscribe"  # noqa: S105 - a signing salt, not a secret
Source = MarketingConsent.Source


@dataclass(frozen=True)
class Purpose:
    """A kind of marketing email. `block_reason(contact)`: "" when allowed; `withdraw(contact,
    source)`: what unsubscribing does; `grant(contact, source)` (optional): what ticking it
    on the preferences page does (None: it can only be joined where it is offered)."""

    name: str
    label: str
    block_reason: Callable[[Contact], str]
    withdraw: Callable[[Contact, str], None]
    grant: Callable[[Contact, str], None] | None = None


PURPOSES: dict[str, Purpose] = {}


def marketing_purpose_register(purpose: Purpose) -> None:
    PURPOSES[purpose.name] = purpose


# --- Consent history ----------------------------------------------------------------------


def marketing_consent_text() -> str:
    return MARKETING_CONSENT_TEXT.format(publisher=settings.PUBLISHER_NAME)


def marketing_consent_record(
    *,
    contact: Contact,
    granted: bool,
    source: str,
    purpose: str = MARKETING,
    wording: str = "",
    version: str = "",
    topic: str = "",
    ip: str = "",
) -> MarketingConsent:
    consent = MarketingConsent(
        contact=contact,
        purpose=purpose,
        topic=topic,
        granted=granted,
        wording=wording,
        version=version,
        source=source,
        ip=ip,
    )
    consent.full_clean(exclude=["contact"])
    consent.save()
    return consent


def marketing_consent_from_form(*, contact: Contact, ticked: bool, source: str, ip: str = ""):
    """A form's marketing box: ticked records a grant with the box's words. Unticked records
    nothing: leaving a box empty on one form does not withdraw what was given on another."""
    if ticked:
        marketing_consent_record(
            contact=contact,
            granted=True,
            source=source,
            wording=marketing_consent_text(),
            version=MARKETING_CONSENT_VERSION,
            ip=ip,
        )


def marketing_consent_current(*, contact: Contact, purpose: str = MARKETING):
    return contact.marketing_consents.filter(purpose=purpose).order_by("-created_at", "-pk").first()


def _consent_block_reason(contact: Contact) -> str:
    consent = marketing_consent_current(contact=contact)
    if consent is None:
        return "No marketing consent was given."
    if not consent.granted:
        when = timezone.localtime(consent.created_at).strftime("%Y-%m-%d %H:%M")
        return f"Unsubscribed ({consent.get_source_display()}, {when})."
    return ""


marketing_purpose_register(
    Purpose(
        name=MARKETING,
        label="Follow-ups about reports I asked about, and offers",
        block_reason=_consent_block_reason,
        withdraw=lambda contact, source: marketing_consent_record(
            contact=contact, granted=False, source=source
        ),
        grant=lambda contact, source: marketing_consent_record(
            contact=contact,
            granted=True,
            source=source,
            wording=marketing_consent_text(),
            version=MARKETING_CONSENT_VERSION,
        ),
    )
)


# --- Queueing, and the check at send time ------------------------------------------------


def marketing_block_reason(*, contact: Contact | None, purpose: str) -> str:
    if contact is None:
        return "No contact."
    if contact.erased_at is not None:
        return "The person's data was erased."
    if purpose not in PURPOSES:
        return f"Unknown purpose {purpose!r}."
    return PURPOSES[purpose].block_reason(contact)


def marketing_email_queue(
    *,
    contact: Contact,
    purpose: str,
    template: str,
    context: dict,
    related=None,
    reply_to: str = "",
    dedupe_key: str | None = None,
) -> OutboundEmail | None:
    """See the module docstring."""
    if marketing_block_reason(contact=contact, purpose=purpose):
        return None
    token = unsubscribe_token(contact=contact, purpose=purpose)
    links = {
        "unsubscribe_url": settings.SITE_URL + reverse("contacts:unsubscribe", args=[token]),
        "preferences_url": settings.SITE_URL + reverse("contacts:preferences", args=[token]),
    }
    return email_queue(
        to=contact.email,
        template=template,
        context={**context, **links, "contact": contact},
        related=related,
        contact=contact,
        reply_to=reply_to,
        dedupe_key=dedupe_key,
        purpose=purpose,
    )


def _send_guard(email: OutboundEmail) -> tuple[str, dict[str, str]]:
    """The outbox's last word before a marketing email goes out."""
    contact = Contact.objects.filter(pk=email.contact_id).first() if email.contact_id else None
    reason = marketing_block_reason(contact=contact, purpose=email.purpose)
    if reason:
        return reason, {}
    return "", unsubscribe_headers(contact=contact, purpose=email.purpose)


email_guard_register(_send_guard)


def unsubscribe_headers(*, contact: Contact, purpose: str) -> dict[str, str]:
    token = unsubscribe_token(contact=contact, purpose=purpose)
    targets = [f"<{settings.SITE_URL}{reverse('contacts:unsubscribe', args=[token])}>"]
    if settings.MARKETING_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.MARKETING_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- Tokens, unsubscribing, preferences ---------------------------------------------------


def unsubscribe_token(*, contact: Contact, purpose: str) -> str:
    # No timestamp: the same link in the body and the header, in every email to the person.
    return signing.Signer(salt=TOKEN_SALT).sign_object({"c": contact.pk, "p": purpose})


def unsubscribe_token_load(token: str) -> tuple[Contact, str] | None:
    """(contact, purpose) for a genuine token of a contact that still exists, else None."""
    try:
        data = signing.Signer(salt=TOKEN_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    contact = Contact.objects.filter(pk=data.get("c")).first()
    if contact is None or data.get("p") not in PURPOSES:
        return None
    return contact, data["p"]


@transaction.atomic
def marketing_unsubscribe(*, contact: Contact, purpose: str, source: str) -> bool:
    """Withdraw `purpose` (nothing more is sent, queued emails included). Returns False when
    it was not in force (a second click changes nothing and records nothing)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if marketing_block_reason(contact=contact, purpose=purpose):
        return False
    PURPOSES[purpose].withdraw(contact, source)
    return True


@transaction.atomic
def marketing_preferences_save(*, contact: Contact, wanted: set[str]) -> None:
    """The preferences page: purposes ticked are granted (where they can be), the others
    withdrawn. Only changes are recorded."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    for purpose in PURPOSES.values():
        allowed = not marketing_block_reason(contact=contact, purpose=purpose.name)
        if allowed and purpose.name not in wanted:
            purpose.withdraw(contact, Source.PREFERENCES)
        elif not allowed and purpose.name in wanted and purpose.grant and not contact.erased_at:
            purpose.grant(contact, Source.PREFERENCES)


def marketing_preferences(*, contact: Contact) -> list[dict]:
    """Each purpose with whether it is in force and whether it can be ticked here."""
    return [
        {
            "name": purpose.name,
            "label": purpose.label,
            "active": not marketing_block_reason(contact=contact, purpose=purpose.name),
            "grantable": purpose.grant is not None,
        }
        for purpose in PURPOSES.values()
    ]

"""Buyers' sign-in by emailed link.

A buyer account is a Django user with an unusable password and a `buyer:` username (the
address's SHA-256, so an address longer than a username still fits); it is made the first
time a link is sent to an address that has orders. The link carries a django-sesame token:
signed with SECRET_KEY, valid for ACCOUNT_LINK_MINUTES, and single use (it signs the
account's last_login, which the sign-in updates). The mail log stores the email with the
token masked; the token is made when the email is sent (`sign_in_email_fill`), so neither
the database nor a backup holds a working link, and the link's minutes start then.

Opening the link only shows a "Sign in" button; the POST signs in. Mail scanners that fetch
every link in an email therefore never use it up, and never get a session."""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from sesame.utils import get_query_string

from common import jobs
from common.logging import secrets_redact
from contacts.models import OutboundEmail
from contacts.services.outbox import email_queue, email_secrets_register

from .backends import BUYER_PREFIX, BuyerTokenBackend
from .models import SignInRequest
from .selectors import buyer_orders

logger = logging.getLogger(__name__)
SIGN_IN_JOB = "account.sign_in_link"
EMAIL_TEMPLATE = "accounts/email/sign_in_link"
BACKEND = "accounts.backends.BuyerTokenBackend"
SESSION_EMAIL = "buyer_email"  # the address the session was signed in with


def email_normalize(email: str) -> str:
    return email.strip().lower()


def buyer_username(email: str) -> str:
    return BUYER_PREFIX + hashlib.sha256(email_normalize(email).encode()).hexdigest()


def buyer_user_get_or_create(*, email: str):
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=buyer_username(email), defaults={"email": email_normalize(email)}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def sign_in_request_create(*, email: str) -> SignInRequest:
    """Record the request and its job; the same writes whether or not the address bought."""
    request = SignInRequest(email=email_normalize(email))
    request.full_clean()
    request.save()
    jobs.enqueue(SIGN_IN_JOB, target_id=request.pk, new_target=True)
    return request


def sign_in_request_handle(*, work: jobs.JobRun) -> None:
    """The "account.sign_in_link" job: email a link if the address has orders; nothing
    otherwise (a stranger's address gets no mail from us). The address is then blanked."""
    with work.completing():
        request = SignInRequest.objects.select_for_update().get(pk=work.target_id)
        if request.handled_at:
            return
        if buyer_orders(email=request.email).exists():
            sign_in_link_queue(email=request.email, dedupe_key=f"sign-in:{request.pk}")
        request.email = ""
        request.handled_at = timezone.now()
        request.save(update_fields=["email", "handled_at"])


def sign_in_link_queue(*, email: str, dedupe_key: str) -> OutboundEmail:
    user = buyer_user_get_or_create(email=email)
    return email_queue(
        to=email,
        template=EMAIL_TEMPLATE,
        context={"url": secrets_redact(_link_url(user, masked=True)), "minutes": _minutes()},
        related=user,
        dedupe_key=dedupe_key,
        send_here=True,
    )


def _minutes() -> int:
    return settings.ACCOUNT_LINK_MINUTES


def _link_url(user, *, masked: bool = False) -> str:
    """The link with a real token, or (`masked`) with a placeholder the log redaction hides."""
    query = f"?{settings.SESAME_TOKEN_NAME}=-" if masked else get_query_string(user)
    return f"{settings.SITE_URL}{reverse('accounts:sign-in-confirm')}{query}"


def sign_in_email_fill(email: OutboundEmail) -> dict[str, str]:
    """{masked link: real link} at send time: the token is made now, for the account the
    email belongs to."""
    user = get_user_model().objects.filter(pk=int(email.related_id or 0)).first()
    if user is None:
        raise jobs.GiveUp("The buyer account is gone: the visitor can ask for a new link.")
    url = _link_url(user)
    return {secrets_redact(url): url}


email_secrets_register(template=EMAIL_TEMPLATE, fill=sign_in_email_fill)


def sign_in_token_user(*, token: str):
    """The buyer account a valid, unused, unexpired token names; None otherwise. Asks the
    backend directly rather than `authenticate()`: a bad link is not a failed staff sign-in
    (django-axes would count it against the address)."""
    if not token:
        return None
    return BuyerTokenBackend().authenticate(None, sesame=token)


def buyer_sign_in(*, request, user) -> None:
    """Start the buyer's session. `login()` updates last_login, which spends the token."""
    login(request, user, backend=BACKEND)
    request.session[SESSION_EMAIL] = user.email
    request.session.set_expiry(settings.ACCOUNT_SESSION_HOURS * 3600)


def signed_in_email(request) -> str:
    """The address this browser signed in with through a link, or ''."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.username.startswith(BUYER_PREFIX):
        return ""
    return request.session.get(SESSION_EMAIL) or user.email

"""Two-factor sign-in for staff: who must enrol, the one-time link that opens the enrolment,
and the enrolment page (a QR code drawn by the site as inline SVG: the secret never leaves
for a QR-code service).

A first authenticator is set up with the password *and* a one-time link: whoever knows a
staff member's password must not be able to put their own phone on the account (the real
person would then be the one locked out). After the password, the site emails the link to the
staff member's address, or a superuser prints one with `manage.py two_factor_link <username>`.
The link works:

- within ADMIN_2FA_ENROLMENT_LINK_MINUTES;
- once: it is bound to the key being set up, which opening it replaces (so every earlier
  link ends too), and opening it grants this browser's session the enrolment;
- only in a browser signed in as that person with their password (a mail scanner that opens
  it gets the sign-in page, and the link still works afterwards).

The link is emailed at once, not through the outbox (enquiries' mail log, which Sales read
and backups keep): it is a secret, and the page says whether it went. The email also tells
the person that someone signed in with their password."""

import base64
import time

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from common.breaker import cache_call

from .forms import EnrolmentForm, confirmed_device

DEVICE_NAME = "Authenticator app"
LINK_SALT = "smosite.staff.two-factor-link"
GRANT_KEY = "two_factor_enrolment"  # in the session: {"device": pk, "until": epoch seconds}
# A new link is emailed at most once a minute per person (a double click, or someone with
# the password signing in again and again, must not fill the person's inbox).
LINK_EMAIL_INTERVAL_SECONDS = 60


class EnrolmentLinkError(Exception):
    """Why a link was not emailed or does not open the enrolment (said to the person)."""


def is_staff_member(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


def two_factor_satisfied(request) -> bool:
    """Staff may use the admin: with ADMIN_REQUIRE_2FA, only once this session was verified
    with their authenticator."""
    return not settings.ADMIN_REQUIRE_2FA or request.user.is_verified()


def enrolment_needed(request) -> bool:
    """A staff member who must use a second factor and has none yet: sent to enrol."""
    return (
        settings.ADMIN_REQUIRE_2FA
        and is_staff_member(request.user)
        and confirmed_device(request.user) is None
    )


def qr_code_svg(data: str) -> str:
    svg = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    markup = svg.to_string(encoding="unicode")
    label = 'role="img" aria-label="QR code to scan with your authenticator app" class="otp-qr"'
    return mark_safe(markup.replace("<svg ", f"<svg {label} ", 1))  # noqa: S308 - our own SVG


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being set up (the same key until it is confirmed or a link is
    opened, so a reload doesn't invalidate the code already scanned)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


# --- The one-time link ----------------------------------------------------------------------


def enrolment_link_create(*, user) -> str:
    """An absolute link that opens the enrolment of `user`'s first authenticator (see the
    module's docstring)."""
    if confirmed_device(user) is not None:
        raise EnrolmentLinkError(
            "This account already has an authenticator. To replace it, delete it under "
            "TOTP devices first."
        )
    device = pending_device(user)
    token = signing.dumps({"user": user.pk, "key": _key_digest(device)}, salt=LINK_SALT)
    return settings.SITE_URL + reverse("admin:two-factor-enrol", args=[token])


def enrolment_link_email(*, user) -> str:
    """Email a new link to the staff member now; returns the address, masked, for the page."""
    if not user.email:
        raise EnrolmentLinkError(
            "Your account has no email address to send a set-up link to. Ask an "
            f"administrator for one (manage.py two_factor_link {user.get_username()})."
        )
    first_in_a_while = cache_call(
        lambda: cache.add(f"two-factor-link:{user.pk}", 1, LINK_EMAIL_INTERVAL_SECONDS),
        fallback=True,
        purpose="set-up link sent without a resend limit",
    )
    if not first_in_a_while:
        raise EnrolmentLinkError(
            "A link was emailed less than a minute ago: check your inbox (and spam folder)."
        )
    context = {
        "user": user,
        "link": enrolment_link_create(user=user),
        "minutes": settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES,
        "publisher": settings.PUBLISHER_NAME,
    }
    subject = f"Set up two-factor sign-in for the {settings.PUBLISHER_NAME} admin"
    body = render_to_string("staff/email/two_factor_link.txt", context, using="text")
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]).send()
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
        raise EnrolmentLinkError(
            f"The set-up link could not be emailed ({type(exc).__name__}). Try again in a "
            "minute, or ask an administrator for one."
        ) from exc
    return _masked(user.email)


def enrolment_link_redeem(*, user, token: str) -> TOTPDevice:
    """Open the enrolment the link grants: the device it was made for gets a new key (so the
    link, and every earlier one, works no more), which the enrolment page then shows."""
    max_age = settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES * 60
    try:
        granted = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise EnrolmentLinkError("This set-up link has expired.") from exc
    except signing.BadSignature as exc:
        raise EnrolmentLinkError("This set-up link is not valid.") from exc
    if granted.get("user") != user.pk:
        raise EnrolmentLinkError("This set-up link is for another account: sign out first.")
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None or _key_digest(device) != granted.get("key"):
            raise EnrolmentLinkError("This set-up link has been used already.")
        device.key = default_key()
        device.save(update_fields=["key"])
    return device


def _key_digest(device: TOTPDevice) -> str:
    return salted_hmac(LINK_SALT, f"{device.pk}:{device.key}", algorithm="sha256").hexdigest()[:24]


def _masked(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


# --- Pages ---------------------------------------------------------------------------------


def enrolment_link_after_sign_in(request) -> None:
    """After the password, a staff member who must enrol is emailed a link (unless they are
    on their way to one already: they came from the link and had to sign in first)."""
    next_url = request.POST.get("next", "")
    if next_url.startswith(reverse("admin:two-factor-enrol", args=["x"]).removesuffix("x/")):
        return
    _email_with_message(request)


def two_factor_view(request, admin_site):
    """Set up the authenticator app: scan the code, type one code to confirm. Without a
    link opened in this session, the page says where the link was sent and offers another.
    Someone who already has an authenticator sees that it is on (a lost phone: an
    administrator deletes the device under "TOTP devices", and the person enrols again)."""
    user = request.user
    context = {**admin_site.each_context(request), "title": "Two-factor sign-in"}
    context["required"] = settings.ADMIN_REQUIRE_2FA
    if confirmed_device(user) is not None:
        context["enrolled"] = confirmed_device(user)
        return TemplateResponse(request, "admin/two_factor.html", context)
    device = _granted_device(request)
    if device is None:
        if request.method == "POST" and "send_link" in request.POST:
            _email_with_message(request)
            return redirect("admin:two-factor")
        context |= {"awaiting_link": True, "email": _masked(user.email) if user.email else ""}
        context["minutes"] = settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES
        return TemplateResponse(request, "admin/two_factor.html", context)
    form = EnrolmentForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        request.session.pop(GRANT_KEY, None)
        otp_login(request, device)
        messages.success(request, "Two-factor sign-in is on: from now on, sign in with a code.")
        return redirect("admin:index")
    context |= {
        "form": form,
        "qr_code": qr_code_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
    }
    return TemplateResponse(request, "admin/two_factor.html", context)


def two_factor_enrol_view(request, admin_site, token: str):
    """The emailed link: opens the enrolment page for this session."""
    if confirmed_device(request.user) is not None:
        return redirect("admin:two-factor")
    try:
        device = enrolment_link_redeem(user=request.user, token=token)
    except EnrolmentLinkError as error:
        context = {**admin_site.each_context(request), "title": "Two-factor sign-in"}
        context |= {"link_error": str(error), "required": settings.ADMIN_REQUIRE_2FA}
        return TemplateResponse(request, "admin/two_factor.html", context, status=400)
    until = time.time() + settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES * 60
    request.session[GRANT_KEY] = {"device": device.pk, "until": until}
    return redirect("admin:two-factor")


def _granted_device(request) -> TOTPDevice | None:
    grant = request.session.get(GRANT_KEY) or {}
    if not grant or grant.get("until", 0) < time.time():
        return None
    return TOTPDevice.objects.filter(
        pk=grant.get("device"), user=request.user, confirmed=False
    ).first()


def _email_with_message(request) -> None:
    try:
        address = enrolment_link_email(user=request.user)
    except EnrolmentLinkError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"We emailed a link to set up two-factor sign-in to {address}. Open it in this "
            "browser.",
        )

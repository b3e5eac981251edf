"""Two-factor sign-in for staff: who must enrol, and the enrolment page (a QR code drawn by
the site as inline SVG: the secret never leaves for a QR-code service)."""

import base64

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from .forms import EnrolmentForm, confirmed_device

DEVICE_NAME = "Authenticator app"


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
    """The unconfirmed device being set up (the same key until it is confirmed, so a reload
    doesn't invalidate the code already scanned)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def two_factor_view(request, admin_site):
    """Set up the authenticator app: scan the code, type one code to confirm. Someone who
    already has one sees that it is on (a lost phone: an administrator deletes the device
    under "TOTP devices", and the person enrols again)."""
    user = request.user
    context = {**admin_site.each_context(request), "title": "Two-factor sign-in"}
    if confirmed_device(user) is not None:
        context["enrolled"] = confirmed_device(user)
        return TemplateResponse(request, "admin/two_factor.html", context)
    device = pending_device(user)
    form = EnrolmentForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        messages.success(request, "Two-factor sign-in is on: from now on, sign in with a code.")
        return redirect("admin:index")
    context |= {
        "form": form,
        "qr_code": qr_code_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
        "required": settings.ADMIN_REQUIRE_2FA,
    }
    return TemplateResponse(request, "admin/two_factor.html", context)

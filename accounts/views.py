"""The buyer's pages: ask for a sign-in link, open it, sign out, and "My reports". Thin:
each view validates, calls a service, renders or redirects. Every page works without
JavaScript."""

import hashlib
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from common.net import client_rate_limit_key
from common.ratelimit import rate_limit_exceeded, rate_limited_response
from common.text import mask_email
from orders.models import Seat
from orders.services import downloads, seats

from . import selectors, services
from .forms import SeatForm, SignInForm


def _see_other(url):
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def buyer_required(view):
    """Pages for a signed-in buyer; anyone else is sent to the sign-in page."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        email = services.signed_in_email(request)
        if not email:
            return redirect("accounts:sign-in")
        return view(request, email, *args, **kwargs)

    return never_cache(inner)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request):
    if services.signed_in_email(request):
        return redirect("accounts:my-reports")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = services.email_normalize(form.cleaned_data["email"])
        if _link_requests_exceeded(request, email):
            return rate_limited_response(
                request, retry_after=settings.ACCOUNT_LINK_RATE_WINDOW_SECONDS
            )
        services.sign_in_request_create(email=email)
        # The same redirect for every address: nothing here says whether it has orders.
        return _see_other(reverse("accounts:sign-in-sent"))
    return render(request, "accounts/sign_in.html", {"form": form})


def _link_requests_exceeded(request, email: str) -> bool:
    window = settings.ACCOUNT_LINK_RATE_WINDOW_SECONDS
    by_network = rate_limit_exceeded(
        scope="sign-in-ip",
        key=client_rate_limit_key(request),
        limit=settings.ACCOUNT_LINK_RATE_LIMIT_PER_IP,
        window_seconds=window,
    )
    by_address = rate_limit_exceeded(
        scope="sign-in-email",
        key=hashlib.sha256(email.encode()).hexdigest(),
        limit=settings.ACCOUNT_LINK_RATE_LIMIT_PER_EMAIL,
        window_seconds=window,
    )
    return by_network or by_address


def sign_in_sent(request):
    return render(request, "accounts/sign_in_sent.html", {"minutes": settings.ACCOUNT_LINK_MINUTES})


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_confirm(request):
    """GET shows a "Sign in" button (a mail scanner fetching the link changes nothing); the
    POST checks the token and starts the session, which spends the token."""
    token = request.POST.get("token") if request.method == "POST" else request.GET.get("token")
    user = services.sign_in_token_user(token=token or "")
    if user is None:
        return render(request, "accounts/sign_in_invalid.html", status=410)
    if request.method == "GET":
        return render(request, "accounts/sign_in_confirm.html", {"token": token})
    services.buyer_sign_in(request=request, user=user)
    return redirect("accounts:my-reports")


@require_POST
def sign_out(request):
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:sign-in")


@buyer_required
def my_reports(request, email):
    orders = list(selectors.buyer_orders(email=email).prefetch_related("download_links"))
    rows = [{"order": order, **_access(order), **_seats(order)} for order in orders]
    return render(
        request,
        "accounts/my_reports.html",
        {"rows": rows, "email": email, "masked_email": mask_email(email)},
    )


def _seats(order) -> dict:
    if not seats.order_has_seats(order):
        return {"has_seats": False}
    free = seats.seats_free(order)
    return {
        "has_seats": True,
        "seats": list(seats.seats_held(order)),
        "seats_free": free,
        "seats_capacity": seats.seat_capacity(order),
        "can_add_seat": order.status == order.Status.FULFILLED and free != 0,
    }


def _access(order) -> dict:
    """The live link's downloads left, for the buyer's own copy (not the seats')."""
    links = [
        link
        for link in order.download_links.all()
        if link.revoked_at is None and getattr(link, "seat_id", None) is None
    ]
    link = links[0] if links else None
    usable = bool(link) and downloads.download_link_state(link=link) == downloads.LinkState.USABLE
    return {
        "downloads_left": max(0, link.max_downloads - link.download_count) if usable else 0,
        "link_expires_at": link.expires_at if usable else None,
        "can_resend": order.status == order.Status.FULFILLED,
    }


@buyer_required
@require_POST
def order_link_send(request, email, reference):
    """A fresh download link, to the purchase email (never anywhere else)."""
    order = selectors.buyer_order_get(email=email, reference=reference)
    if order is None:
        raise Http404("No such order")
    if rate_limit_exceeded(
        scope="download-renew",
        key=reference,
        limit=settings.DOWNLOAD_RENEW_LIMIT_PER_DAY,
        window_seconds=86400,
    ):
        return rate_limited_response(request, retry_after=3600)
    try:
        downloads.download_link_reissue(order=order, note="Requested by the buyer on My reports")
    except downloads.DownloadUnavailable:
        messages.error(request, f"Order {reference} can no longer be downloaded.")
    else:
        messages.success(
            request, f"We have sent a new download link to {mask_email(order.buyer_email)}."
        )
    return redirect("accounts:my-reports")


def _buyer_order(email, reference):
    order = selectors.buyer_order_get(email=email, reference=reference)
    if order is None:
        raise Http404("No such order")
    return order


def _buyer_seat(order, seat_id) -> Seat:
    seat = Seat.objects.filter(order=order, pk=seat_id, released_at__isnull=True).first()
    if seat is None:
        raise Http404("No such seat")
    return seat


def _seat_form_or_back(request):
    form = SeatForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"Please give the colleague's name and a valid email ({errors}).")
    return form


@buyer_required
@require_POST
def seat_add(request, email, reference):
    """Name a colleague for the next free seat of a multi-user licence."""
    order = _buyer_order(email, reference)
    form = _seat_form_or_back(request)
    if form.is_valid():
        try:
            seat = seats.seat_add(order=order, **form.cleaned_data)
        except seats.SeatNotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Seat {seat.number} is {seat.name}'s: their copy is on its way to "
                f"{mask_email(seat.email)}.",
            )
    return redirect("accounts:my-reports")


@buyer_required
@require_POST
def seat_reassign(request, email, reference, seat_id):
    """Give a seat to someone else: the old holder's link stops."""
    order = _buyer_order(email, reference)
    seat = _buyer_seat(order, seat_id)
    form = _seat_form_or_back(request)
    if form.is_valid():
        try:
            new = seats.seat_reassign(seat=seat, **form.cleaned_data)
        except seats.SeatNotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Seat {new.number} is now {new.name}'s; {seat.name}'s link no longer works.",
            )
    return redirect("accounts:my-reports")


@buyer_required
@require_POST
def seat_link_send(request, email, reference, seat_id):
    order = _buyer_order(email, reference)
    seat = _buyer_seat(order, seat_id)
    if rate_limit_exceeded(
        scope="seat-link",
        key=str(seat.pk),
        limit=settings.DOWNLOAD_RENEW_LIMIT_PER_DAY,
        window_seconds=86400,
    ):
        return rate_limited_response(request, retry_after=3600)
    try:
        seats.seat_link_reissue(seat=seat)
    except seats.SeatNotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"We have sent {seat.name} a new download link.")
    return redirect("accounts:my-reports")

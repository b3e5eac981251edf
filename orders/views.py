"""Buying a report: the purchase page, the return from Stripe Checkout, the webhook, and the
download pages. Thin: each view validates, calls a service, renders or redirects."""

import logging
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from common.currency import currency_choosable, currency_for
from common.net import client_ip, client_rate_limit_key, ip_truncate
from common.ratelimit import rate_limit_exceeded, rate_limited_response
from common.text import mask_email
from contacts.middleware import first_touch
from reports import selectors
from reports.models import Report

from .forms import PurchaseForm
from .models import Order
from .quotes import QuoteInvalid, quote_token_read
from .services import checkout, downloads, fulfilment, invoices, recovery, webhooks
from .services.stripe_client import (
    StripeUnavailable,
    stripe_checkout_origin,
    stripe_deadline,
    stripe_enabled,
)

logger = logging.getLogger(__name__)

SESSION_ORDERS = "orders"  # references of the orders this browser started


# --- The purchase page --------------------------------------------------------------------


def _checkout_may_follow(view):
    """The purchase form's POST answers with a redirect to Stripe Checkout, and browsers
    check form-action against that redirect too: this page's policy names Checkout."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        policy = dict(settings.SECURE_CSP)
        policy["form-action"] = [*policy.get("form-action", []), stripe_checkout_origin()]
        response._csp_config = policy  # what django.views.decorators.csp.csp_override sets
        return response

    return inner


@_checkout_may_follow
@currency_choosable
def purchase(request, number):
    report = selectors.report_get_public(number=number)
    if report is None:
        raise Http404("No such report")
    licences = [licence for licence in report.licences.all() if licence.is_active]
    quote_terms, quote_error = _quote_terms(request, report)
    context = {
        "report": report,
        "currency": quote_terms.currency if quote_terms else currency_for(request),
        "licences": licences,
        "quote_terms": quote_terms,
        "quote_error": quote_error,
        "stripe_enabled": stripe_enabled(),
        "online": bool(stripe_enabled() and report.status == Report.Status.PUBLISHED and licences),
        "cancelled": _owned_order(request, request.GET.get("cancelled", "")),
        "invoice_offered": _invoice_offered(licences, quote_terms),
        "invoice_all": settings.INVOICE_ALL_ORDERS,
        "invoice_min_amount": settings.INVOICE_MIN_AMOUNT,
        "invoice_due_days": settings.INVOICE_DUE_DAYS,
    }
    if context["cancelled"] is not None and not quote_terms:  # back from Checkout
        context["currency"] = context["cancelled"].currency
    if not context["online"]:
        return render(request, "orders/purchase.html", context)
    form_kwargs = {"licences": licences, "quote_terms": quote_terms}
    if request.method == "POST":
        return _purchase_submit(request, report, context, form_kwargs)
    form = PurchaseForm(initial=_initial(request, context, quote_terms), **form_kwargs)
    return render(request, "orders/purchase.html", {**context, "form": form})


def _invoice_offered(licences, quote_terms) -> bool:
    """Whether any purchase this page offers may be paid by invoice (the press checks the
    chosen one)."""
    prices = [quote_terms.price] if quote_terms else [licence.price for licence in licences]
    return any(invoices.invoice_offered(price=price) for price in prices)


def _quote_terms(request, report):
    token = request.POST.get("quote") or request.GET.get("quote") or ""
    if not token:
        return None, ""
    try:
        quote = quote_token_read(token)
        return checkout.purchase_terms_for_quote(report=report, quote=quote), ""
    except (QuoteInvalid, checkout.QuoteMismatch) as exc:
        return None, str(exc)


def _initial(request, context, quote_terms) -> dict:
    initial = {
        "licence": request.GET.get("licence", ""),
        "quote": request.GET.get("quote", ""),
        "currency": context["currency"],
    }
    cancelled = context["cancelled"]
    if cancelled is not None:  # back from Checkout: keep what they typed
        initial.update(
            licence=cancelled.licence_kind,
            email=cancelled.buyer_email,
            name=cancelled.buyer_name,
            company=cancelled.buyer_company,
            vat_id=cancelled.buyer_vat_id,
            promotion_code=cancelled.promotion_code,
        )
    if quote_terms is not None:
        initial["licence"] = quote_terms.licence.kind
    return initial


def _purchase_submit(request, report, context, form_kwargs):
    window = settings.PURCHASE_RATE_WINDOW_SECONDS
    if rate_limit_exceeded(
        scope="purchase",
        key=client_rate_limit_key(request),
        limit=settings.PURCHASE_RATE_LIMIT,
        window_seconds=window,
    ):
        return rate_limited_response(request, retry_after=window)
    form = PurchaseForm(request.POST, **form_kwargs)
    if context["quote_error"]:
        form.add_error(None, context["quote_error"])
    if not form.is_valid():
        return render(request, "orders/purchase.html", {**context, "form": form})
    # One press of Pay, one deadline for every Stripe call it makes (promotion code, the
    # look-up of an earlier session, the create and their retries).
    if not context["quote_terms"]:  # the currency the page showed the prices in
        context["currency"] = form.cleaned_data["currency"] or context["currency"]
    with stripe_deadline():
        return _pay_press(request, report, context, form)


def _pay_press(request, report, context, form):
    promotion_id = _promotion_code_id(form, context["currency"])
    if form.errors:
        return render(request, "orders/purchase.html", {**context, "form": form})
    by_invoice = request.POST.get("pay_by") == Order.PaymentRoute.INVOICE
    try:
        return _checkout_redirect(
            request, report, form, context, promotion_id, by_invoice=by_invoice
        )
    except invoices.InvoiceNotAllowed as exc:
        form.add_error(None, str(exc))
        return render(request, "orders/purchase.html", {**context, "form": form})
    except StripeUnavailable as exc:
        logger.warning("checkout for report %s could not start: %s", report.number, exc)
        form.add_error(None, _stripe_error_text(exc, by_invoice=by_invoice))
        # 200, not 503: Django only saves the session (which remembers the pending order
        # for the retry) on responses below 500.
        return render(request, "orders/purchase.html", {**context, "form": form})


def _stripe_error_text(exc: StripeUnavailable, *, by_invoice: bool) -> str:
    if not by_invoice:
        return (
            "We could not reach our payment provider, so nothing has been charged. "
            "Please press Pay again in a moment; your order is kept."
        )
    if exc.code == "tax_id_invalid":
        return (
            f"Stripe did not accept the VAT ID for the invoice ({exc}). Check it and press again."
        )
    return (
        "We could not create your invoice just now, so nothing has been sent or charged. "
        "Your order is kept: press “Pay by bank transfer” again in a moment."
    )


def _promotion_code_id(form, currency: str) -> str:
    code = form.cleaned_data.get("promotion_code")
    if not code:
        return ""
    try:
        found = checkout.promotion_code_find(code=code, currency=currency)
    except StripeUnavailable:
        form.add_error(
            "promotion_code", "We could not check this code just now. Try again, or leave it out."
        )
        return ""
    if not found:
        form.add_error(
            "promotion_code",
            f"This promotion code is not valid for payments in {currency}, or has expired.",
        )
    return found or ""


def _checkout_redirect(request, report, form, context, promotion_id, *, by_invoice=False):
    terms = context["quote_terms"] or checkout.purchase_terms_list(
        licence=form.chosen_licence, currency=context["currency"]
    )
    if by_invoice and not invoices.invoice_offered(price=terms.price):
        raise invoices.InvoiceNotAllowed(
            f"Pay by invoice is offered for orders of {terms.currency} "
            f"{settings.INVOICE_MIN_AMOUNT:,.0f} or more; please pay by card or another method."
        )
    route = Order.PaymentRoute.INVOICE if by_invoice else Order.PaymentRoute.CHECKOUT
    data = form.cleaned_data
    values = {
        "report_id": report.pk,
        "licence_kind": terms.licence.kind,
        "price": terms.price,
        "currency": terms.currency.upper(),
        "buyer_email": data["email"],
        "buyer_name": data["name"],
        "buyer_company": data["company"],
        "buyer_vat_id": data["vat_id"],
        "promotion_code": data.get("promotion_code", ""),
        "payment_route": route,
    }
    order, resume_url = _resumable_order(request, values)
    if resume_url:
        return _see_other(resume_url)
    if order is None:
        order = checkout.order_create(
            report=report,
            terms=terms,
            buyer_email=data["email"],
            buyer_name=data["name"],
            buyer_company=data["company"],
            buyer_vat_id=data["vat_id"],
            promotion_code=values["promotion_code"],
            stripe_promotion_code_id=promotion_id,
            attribution=first_touch(request),
            payment_route=route,
            marketing=data.get("marketing", False),
        )
        _remember_order(request, order)
    if order.payment_route == Order.PaymentRoute.INVOICE:
        invoices.invoice_issue(order=order)  # goes on from where an earlier press stopped
        return _see_other(reverse("orders:purchase-invoice", kwargs={"reference": order.reference}))
    session = checkout.checkout_session_start(order=order)
    return _see_other(session["url"])


def _resumable_order(request, values) -> tuple[Order | None, str]:
    """The pending order this browser started for the same purchase, if any, and the URL to
    continue it at (its still-open Checkout Session, or the success page if it was paid)."""
    references = request.session.get(SESSION_ORDERS, [])
    pending = Order.objects.filter(reference__in=references, status=Order.Status.PENDING)
    for order in pending.order_by("-created_at")[:5]:
        if not checkout.order_reusable(order=order, values=values):
            continue
        if order.payment_route == Order.PaymentRoute.INVOICE:
            sent = reverse("orders:purchase-invoice", kwargs={"reference": order.reference})
            return order, sent if order.invoice_sent_at else ""
        if not order.stripe_session_id:
            return order, ""
        session = checkout.checkout_session_retrieve(session_id=order.stripe_session_id)
        if session.get("status") == "open":
            return order, session.get("url") or order.stripe_session_url
        if session.get("status") == "complete":
            return order, f"{order.get_absolute_url()}?session_id={session['id']}"
    return None, ""


def _remember_order(request, order):
    references = [*request.session.get(SESSION_ORDERS, []), order.reference][-20:]
    request.session[SESSION_ORDERS] = references


def _owned_order(request, reference) -> Order | None:
    if not reference or reference not in request.session.get(SESSION_ORDERS, []):
        return None
    return Order.objects.filter(reference=reference).first()


def _see_other(url):
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST, the browser must GET the next page
    return response


# --- Back from Stripe Checkout ------------------------------------------------------------


def purchase_complete(request, reference):
    """The success page. A redirect here proves nothing: the session is retrieved from
    Stripe and passed to the same fulfilment service the webhook uses."""
    order = get_object_or_404(Order.objects.select_related("report"), reference=reference)
    session_id = request.GET.get("session_id", "")
    owned = reference in request.session.get(SESSION_ORDERS, [])
    # Only the Checkout Session we created for this order (its id is recorded before the
    # buyer is sent to Stripe) opens the page: checked here, so no made-up id is shown the
    # order while Stripe is too slow to say it doesn't exist.
    session_matches = bool(session_id and order.stripe_session_id) and constant_time_compare(
        session_id, order.stripe_session_id
    )
    if session_id and not session_matches and order.status == Order.Status.ABANDONED:
        session_matches = _recovered_through(order, session_id)
    if (session_id and not session_matches) or not (owned or session_matches):
        raise Http404("No such order")
    if order.payment_route == Order.PaymentRoute.INVOICE:
        return redirect("orders:purchase-invoice", reference=order.reference)
    confirm_error = False
    if session_matches:
        with stripe_deadline():  # the session, then its payment method: one deadline
            confirm_error = _confirm_with_stripe(order, session_id)
        order.refresh_from_db()
    context = {
        "order": order,
        "report": order.report,
        "owned": owned,
        "confirm_error": confirm_error,
        "refresh_seconds": _refresh_seconds(order, confirm_error),
        "masked_email": mask_email(order.buyer_email),
        "link": (link := _active_link(order)),
        "downloads_left": max(0, link.max_downloads - link.download_count) if link else 0,
    }
    return render(request, "orders/purchase_complete.html", context)


def _recovered_through(order, session_id) -> bool:
    """An abandoned order's buyer back from a session opened by its recovery link, before
    the webhook said so: Stripe is asked whether that session recovers this order's."""
    if not order.abandoned_session_id:
        return False
    with stripe_deadline():
        try:
            session = checkout.checkout_session_retrieve(session_id=session_id)
        except StripeUnavailable:
            return False
    return recovery.session_recovers(order=order, session=session)


def _confirm_with_stripe(order, session_id) -> bool:
    """True when Stripe could not be asked (the page retries by itself)."""
    if order.status in (Order.Status.PAID, Order.Status.FULFILLED):
        return False
    try:
        session = checkout.checkout_session_retrieve(session_id=session_id)
    except StripeUnavailable as exc:
        if exc.definitive:
            raise Http404("No such checkout session") from exc
        return True
    if not recovery.session_is_for_order(order=order, session=session):
        raise Http404("No such order")
    fulfilment.order_fulfil(order=order, session=session)
    return False


def purchase_invoice(request, reference):
    """After "Pay by bank transfer": what happens next, with Stripe's hosted invoice (bank
    details, PDF). Only the browser that placed the order sees it."""
    order = _owned_order(request, reference)
    if order is None or order.payment_route != Order.PaymentRoute.INVOICE:
        raise Http404("No such order")
    context = {
        "order": order,
        "report": order.report,
        "masked_email": mask_email(order.buyer_email),
        "link": (link := _active_link(order)),
        "downloads_left": max(0, link.max_downloads - link.download_count) if link else 0,
    }
    return render(request, "orders/purchase_invoice.html", context)


def _refresh_seconds(order, confirm_error) -> int:
    fast = settings.PURCHASE_STATUS_REFRESH_SECONDS
    if order.status == Order.Status.PAID or confirm_error:
        return fast
    if order.status == Order.Status.PENDING and not order.amount_mismatch:
        return fast if order.stripe_payment_status != "unpaid" else 30
    return 0


def _active_link(order):
    if order.status != Order.Status.FULFILLED:
        return None
    return order.download_links.filter(revoked_at__isnull=True).first()


@require_POST
def purchase_complete_download(request, reference):
    """The success page's download button, for the browser that placed the order. It counts
    against the order's live link, like the emailed one."""
    order = _owned_order(request, reference)
    if order is None:
        raise Http404("No such order")
    link = _active_link(order)
    if link is None:
        return redirect(order)
    try:
        return _download_stream(request, link)
    except downloads.DownloadUnavailable:
        messages.error(request, "This download is no longer available; see below.")
        return redirect(order)


# --- Stripe webhook -----------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        event = webhooks.webhook_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except webhooks.WebhookRejected as exc:
        logger.warning("Stripe webhook rejected: %s", exc)
        return HttpResponseBadRequest("Webhook signature verification failed.")
    _, created = webhooks.stripe_event_record(event=event)
    return JsonResponse({"received": True, "duplicate": not created})


# --- Download links -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def download(request, reference, token):
    """GET shows the link's page with a Download button; the POST streams the file. Mail
    scanners that open every link in an email therefore never use up a download."""
    link = downloads.download_link_find(reference=reference, token=token)
    if link is None:
        return render(request, "orders/download_invalid.html", status=404)
    state = downloads.download_link_state(link=link)
    if request.method == "POST" and state == downloads.LinkState.USABLE:
        try:
            return _download_stream(request, link)
        except downloads.DownloadUnavailable as exc:
            state = exc.state  # used up or revoked a moment ago
    return _download_page(request, link, state, token)


def _download_page(request, link, state, token):
    usable = state == downloads.LinkState.USABLE
    context = {
        "link": link,
        "order": link.order,
        "report": link.order.report,
        "state": state,
        "token": token,
        "renewable": _renewable(link, state),
        "downloads_left": max(0, link.max_downloads - link.download_count),
        "masked_email": mask_email(link.order.buyer_email),
    }
    return render(request, "orders/download.html", context, status=200 if usable else 410)


def _renewable(link, state) -> bool:
    """A fresh link can replace an expired, used-up or superseded one, never one withdrawn
    for a refund or dispute. A seat's link is renewed by the buyer (My reports)."""
    if link.order.status != Order.Status.FULFILLED or link.seat_id:
        return False
    if state == downloads.LinkState.REVOKED:
        return link.revoke_reason == link.RevokeReason.SUPERSEDED
    return state in (downloads.LinkState.EXPIRED, downloads.LinkState.EXHAUSTED)


def _download_stream(request, link):
    """Open the file first, then count the download: a missing file never costs one."""
    try:
        handle = downloads.link_file_open(link=link)
    except FileNotFoundError:
        logger.error("deliverable of order %s is missing from storage", link.order.reference)
        raise Http404("The file is missing; we have been told.") from None
    try:
        downloads.download_claim(
            link=link,
            ip=ip_truncate(client_ip(request)),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except downloads.DownloadUnavailable:
        handle.close()
        raise
    order = link.order
    filename = f"{order.reference}-{order.report.slug}.pdf"
    if settings.DOWNLOAD_ACCEL_REDIRECT:
        # nginx sends the file from its internal location (docs/deploy.md); the worker is
        # free as soon as the download is counted.
        handle.close()
        response = HttpResponse(content_type="application/pdf")
        response["X-Accel-Redirect"] = settings.DOWNLOAD_ACCEL_REDIRECT + quote(
            downloads.link_file_path(link=link)
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
    else:
        response = FileResponse(
            handle, as_attachment=True, filename=filename, content_type="application/pdf"
        )
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_POST
def download_renew(request, reference, token):
    """The buyer asks for a fresh link; it goes to the purchase email only."""
    link = downloads.download_link_find(reference=reference, token=token)
    if link is None:
        return render(request, "orders/download_invalid.html", status=404)
    state = downloads.download_link_state(link=link)
    if not _renewable(link, state):
        return _download_page(request, link, state, token)
    if rate_limit_exceeded(
        scope="download-renew",
        key=reference,
        limit=settings.DOWNLOAD_RENEW_LIMIT_PER_DAY,
        window_seconds=86400,
    ):
        return rate_limited_response(request, retry_after=3600)
    downloads.download_link_reissue(
        order=link.order, note=f"Requested by the buyer from link {link.pk} ({state})"
    )
    messages.success(
        request, f"We have sent a new download link to {mask_email(link.order.buyer_email)}."
    )
    return redirect(reverse("orders:download", kwargs={"reference": reference, "token": token}))

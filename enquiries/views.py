import logging
from hashlib import sha256

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from common.net import client_ip, client_rate_limit_key, ip_truncate
from common.ratelimit import rate_limit_exceeded, rate_limited_response
from common.text import mask_email
from contacts.middleware import first_touch
from reports.selectors import report_get_public

from . import selectors, sla
from .forms import EnquiryForm, SampleRequestForm
from .models import Enquiry
from .services import samples
from .services.enquiries import enquiry_create as enquiry_create_service

THANKS_SESSION_KEY = "enquiry_thanks"

logger = logging.getLogger(__name__)


def sample_request_create(request, number):
    """The free-sample form. A valid post stores the lead and redirects to the thank-you
    page; the sample is stamped and emailed by the worker."""
    report = selectors.report_get_for_sample(number=number)
    if report is None:
        raise Http404("No such report")
    data = request.POST if request.method == "POST" else None
    form = SampleRequestForm(data, publisher=settings.PUBLISHER_NAME)
    if form.is_bound and form.is_valid():
        if _sample_rate_limited(request, email=form.cleaned_data["email"]):
            return rate_limited_response(
                request, retry_after=settings.SAMPLE_RATE_LIMIT_WINDOW_SECONDS
            )
        sample_request, _created = samples.sample_request_create(
            report=report,
            form_data=form.cleaned_data,
            attribution=first_touch(request),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return redirect("enquiries:sample-thanks", token=sample_request.public_token)
    return render(request, "enquiries/samplerequest_form.html", {"report": report, "form": form})


def _sample_rate_limited(request, *, email: str) -> bool:
    """Per client address and per email address (both let through if the cache is down)."""
    window = settings.SAMPLE_RATE_LIMIT_WINDOW_SECONDS
    email_key = sha256(email.encode()).hexdigest()[:32]  # no addresses in cache keys
    by_ip = rate_limit_exceeded(
        scope="sample-ip",
        key=client_rate_limit_key(request),
        limit=settings.SAMPLE_RATE_LIMIT_PER_IP,
        window_seconds=window,
    )
    by_email = rate_limit_exceeded(
        scope="sample-email",
        key=email_key,
        limit=settings.SAMPLE_RATE_LIMIT_PER_EMAIL,
        window_seconds=window,
    )
    return by_ip or by_email


@never_cache
def sample_request_thanks(request, token):
    return _sample_request_page(request, token, "enquiries/samplerequest_thanks.html")


@never_cache
def sample_request_status(request, token):
    return _sample_request_page(request, token, "enquiries/samplerequest_status.html")


def _sample_request_page(request, token, template):
    """Shown only to whoever holds the unguessable token; anyone else gets a plain 404."""
    sample_request = selectors.sample_request_get_by_token(token=token)
    if sample_request is None:
        raise Http404("No such request")
    context = {
        "sample_request": sample_request,
        "report": sample_request.report,
        "masked_email": mask_email(sample_request.email),
        "retrying": sample_request.status == sample_request.Status.PDF_READY
        and selectors.sample_request_email_retrying(sample_request=sample_request),
        "refresh_seconds": settings.SAMPLE_STATUS_REFRESH_SECONDS,
    }
    response = render(request, template, context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def enquiry_create(request, number):
    """The pre-order enquiry form. A valid post records the enquiry and redirects to the
    thank-you page (so a reload can't send it twice)."""
    report = _report_or_404(number)
    if request.method == "POST":
        if _rate_limited(scope="enquiry-ip", key=client_rate_limit_key(request)):
            return rate_limited_response(
                request, retry_after=settings.ENQUIRY_RATE_LIMIT_WINDOW_SECONDS
            )
        form = EnquiryForm(request.POST, report=report, publisher=settings.PUBLISHER_NAME)
        if form.is_valid():
            if _rate_limited(scope="enquiry-email", key=form.cleaned_data["email"]):
                return rate_limited_response(
                    request, retry_after=settings.ENQUIRY_RATE_LIMIT_WINDOW_SECONDS
                )
            enquiry = enquiry_create_service(
                report=report,
                contact_details=form.contact_details(),
                enquiry_type=form.cleaned_data["type"],
                question=form.cleaned_data["question"],
                licence=form.cleaned_data["licence"],
                attribution=first_touch(request),
                ip=ip_truncate(client_ip(request)),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                marketing=form.cleaned_data["marketing"],
            )
            request.session[THANKS_SESSION_KEY] = enquiry.pk
            return redirect("enquiries:pre-order-enquiry-thanks", number=report.number)
    else:
        form = EnquiryForm(
            initial=_initial_from_query(request, report),
            report=report,
            publisher=settings.PUBLISHER_NAME,
        )
    return render(
        request,
        "enquiries/enquiry_form.html",
        {"form": form, "report": report, "promise": sla.sla_promise_text()},
    )


def enquiry_thanks(request, number):
    """Shown after a successful post. The enquiry comes from the session, never the URL, so
    nobody can read another visitor's details by changing a number."""
    report = _report_or_404(number)
    enquiry = (
        Enquiry.objects.filter(pk=request.session.get(THANKS_SESSION_KEY), report=report)
        .select_related("contact")
        .first()
    )
    if enquiry is None:
        return redirect(reverse("enquiries:pre-order-enquiry", args=[report.number]))
    return render(
        request,
        "enquiries/enquiry_thanks.html",
        {
            "report": report,
            "enquiry": enquiry,
            "due_at": sla.sla_deadline(enquiry.created_at),
            "business_tz": settings.ENQUIRY_BUSINESS_TIME_ZONE,
            "promise": sla.sla_promise_text(),
        },
    )


def _report_or_404(number):
    report = report_get_public(number=number)
    if report is None:
        raise Http404("No such report")
    return report


def _rate_limited(*, scope: str, key: str) -> bool:
    limits = {
        "enquiry-ip": settings.ENQUIRY_RATE_LIMIT_PER_IP,
        "enquiry-email": settings.ENQUIRY_RATE_LIMIT_PER_EMAIL,
    }
    return rate_limit_exceeded(
        scope=scope,
        key=key,
        limit=limits[scope],
        window_seconds=settings.ENQUIRY_RATE_LIMIT_WINDOW_SECONDS,
    )


def _initial_from_query(request, report) -> dict:
    """Links can preselect the enquiry type and licence, e.g. the purchase page's "pay by
    invoice" link: ?type=invoice&licence=multi."""
    default_type = (
        Enquiry.Type.PRE_ORDER if report.status == report.Status.UPCOMING else Enquiry.Type.PRICING
    )
    requested = request.GET.get("type", "")
    enquiry_type = requested if requested in Enquiry.Type.values else default_type
    licence = next(
        (lic for lic in report.licences.all() if lic.kind == request.GET.get("licence")), None
    )
    initial = {"type": enquiry_type, "licence": licence}
    if enquiry_type == Enquiry.Type.INVOICE:
        what = f"the {licence.get_kind_display()} licence" if licence else "this report"
        initial["question"] = (
            f"I would like to buy {what} and pay by invoice. Our purchase order details: "
        )
    return initial

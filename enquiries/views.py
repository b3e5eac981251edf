import logging
from hashlib import sha256

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from . import selectors
from .antispam import client_ip, rate_limit_exceeded, rate_limited_response
from .forms import SampleRequestForm
from .middleware import first_touch
from .services import samples

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
    """Per client address and per email address. If the cache is unreachable the request is
    let through: losing a real lead in an outage costs more than a burst of spam."""
    window = settings.SAMPLE_RATE_LIMIT_WINDOW_SECONDS
    email_key = sha256(email.encode()).hexdigest()[:32]  # no addresses in cache keys
    try:
        by_ip = rate_limit_exceeded(
            scope="sample-ip",
            key=client_ip(request) or "unknown",
            limit=settings.SAMPLE_RATE_LIMIT_PER_IP,
            window_seconds=window,
        )
        by_email = rate_limit_exceeded(
            scope="sample-email",
            key=email_key,
            limit=settings.SAMPLE_RATE_LIMIT_PER_EMAIL,
            window_seconds=window,
        )
    except Exception:  # noqa: BLE001 - cache down: fail open, see above
        logger.warning("rate-limit cache unavailable; sample request let through")
        return False
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
        "masked_email": selectors.mask_email(sample_request.email),
        "retrying": sample_request.status == sample_request.Status.PDF_READY
        and selectors.sample_request_email_retrying(sample_request=sample_request),
        "refresh_seconds": settings.SAMPLE_STATUS_REFRESH_SECONDS,
    }
    response = render(request, template, context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def enquiry_create(request, number):
    """The pre-order enquiry form (issue: pre-order enquiries)."""
    raise Http404("Enquiries are not open yet.")

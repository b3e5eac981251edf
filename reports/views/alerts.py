"""Alerts for new reports: the sign-up form's target and the confirmation link."""

from hashlib import sha256

from django import forms
from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common.forms import PERSONAL_FIELD_HINTS
from common.net import client_ip, client_rate_limit_key, ip_truncate
from common.ratelimit import rate_limit_exceeded, rate_limited_response
from common.text import mask_email

from ..models import Category
from ..services import alerts


class AlertForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs=PERSONAL_FIELD_HINTS["email"])
    )
    category = forms.SlugField(max_length=120)
    website = forms.CharField(required=False)  # the honeypot: people leave it empty


# The form sits on the category and report pages, which are cached for everyone
# (common/pagecache.py) and so carry no per-visitor CSRF token. What a forged post can do is
# what the form does anyway: email a confirmation link to the address typed (double opt-in:
# nothing else is sent until it is followed), rate-limited per client and per address.
@csrf_exempt
@require_POST
@never_cache
def alert_subscribe(request):
    form = AlertForm(request.POST)
    if not form.is_valid():
        return render(request, "reports/alert_invalid.html", {"form": form}, status=400)
    category = get_object_or_404(Category, slug=form.cleaned_data["category"])
    email = form.cleaned_data["email"].strip().lower()
    if _rate_limited(request, email):
        return rate_limited_response(request, retry_after=settings.ALERT_RATE_LIMIT_WINDOW_SECONDS)
    if not form.cleaned_data["website"]:
        alerts.alert_subscribe(email=email, category=category, ip=ip_truncate(client_ip(request)))
    context = {"category": category, "masked_email": mask_email(email)}
    return render(request, "reports/alert_requested.html", context)


def _rate_limited(request, email: str) -> bool:
    window = settings.ALERT_RATE_LIMIT_WINDOW_SECONDS
    limit = settings.ALERT_RATE_LIMIT
    by_ip = rate_limit_exceeded(
        scope="alert-ip", key=client_rate_limit_key(request), limit=limit, window_seconds=window
    )
    by_email = rate_limit_exceeded(
        scope="alert-email",
        key=sha256(email.encode()).hexdigest()[:32],
        limit=limit,
        window_seconds=window,
    )
    return by_ip or by_email


@never_cache
def alert_confirm(request, token):
    """GET shows a button; the POST confirms (mail scanners fetch links, and must not sign
    anyone up)."""
    subscription = alerts.alert_confirm_token_load(token)
    if subscription is None:
        raise Http404("Invalid or expired link")
    if request.method == "POST":
        alerts.alert_confirm(subscription=subscription, ip=ip_truncate(client_ip(request)))
        return redirect(request.path + "?done=1")
    context = {
        "subscription": subscription,
        "category": subscription.category,
        "masked_email": mask_email(subscription.contact.email),
        "done": request.GET.get("done") == "1" and subscription.is_active,
    }
    return render(request, "reports/alert_confirm.html", context)

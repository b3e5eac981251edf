"""The pages a marketing email links to: one-click unsubscribe (RFC 8058) and the person's
preferences. Both are reached by a signed token in the URL, never a sign-in."""

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from common.text import mask_email

from .services import marketing


def _contact_or_404(token: str):
    found = marketing.unsubscribe_token_load(token)
    if found is None:
        raise Http404("Invalid link")
    return found


@csrf_exempt  # RFC 8058: the mail client POSTs with no token of ours; the URL's signature is the proof
@never_cache
def unsubscribe(request, token):
    """POST (a mail client's one-click, or the button below): unsubscribed at once, no
    confirmation page. GET shows the button only: link scanners fetch URLs in emails, and a
    GET must not unsubscribe anyone."""
    contact, purpose = _contact_or_404(token)
    if request.method == "POST":
        marketing.marketing_unsubscribe(
            contact=contact, purpose=purpose, source=marketing.Source.ONE_CLICK
        )
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return render(request, "contacts/unsubscribed.html", _context(contact, purpose, token))
    return render(request, "contacts/unsubscribe.html", _context(contact, purpose, token))


@never_cache
def preferences(request, token):
    contact, purpose = _contact_or_404(token)
    if request.method == "POST":
        marketing.marketing_preferences_save(
            contact=contact, wanted=set(request.POST.getlist("purpose"))
        )
        return redirect(request.path + "?saved=1")
    context = _context(contact, purpose, token)
    context["saved"] = request.GET.get("saved") == "1"
    return render(request, "contacts/preferences.html", context)


def _context(contact, purpose, token) -> dict:
    return {
        "masked_email": mask_email(contact.email),
        "purpose": marketing.PURPOSES[purpose],
        "preferences": marketing.marketing_preferences(contact=contact),
        "token": token,
        "noindex": True,
    }

"""Site-wide endpoints: /healthz, /robots.txt, the privacy notice and the 500 page."""

from django.conf import settings
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from enquiries.models import FollowUpStep

from .health import health_report, readiness_allowed

# Crawlers stay out of the admin and of the pages that only make sense after a click.
ROBOTS_DISALLOW = ("/admin/", "/enquiry/", "/purchase/")


@never_cache
@require_GET
def healthz(request):
    """Liveness: this web process answers. No service is touched (smosite/health.py)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz_ready(request):
    """200 when the database, broker, cache and private storage all answer; 503 naming the
    one(s) that did not. Only for this machine or with HEALTHZ_TOKEN (smosite/health.py)."""
    if not readiness_allowed(request):
        message = "Readiness answers this machine, or a request with HEALTHZ_TOKEN."
        return JsonResponse({"error": message}, status=403)
    checks = health_report()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


@require_GET
def robots_txt(request):
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines += ["", f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


def privacy(request):
    """The privacy notice, with the retention periods the purge actually applies."""
    retention = {
        "leads": settings.LEAD_RETENTION_DAYS,
        "mail_bodies": settings.MAIL_BODY_RETENTION_DAYS,
        "stripe": settings.STRIPE_EVENT_RETENTION_DAYS,
        "failed_jobs": settings.JOB_KEEP_FAILED_DAYS,
    }
    context = {
        "retention": retention,
        # The kinds of email we send (marketing ones with their schedule).
        "followup_steps": FollowUpStep.objects.filter(is_active=True).order_by("position"),
        "alert_interval_days": settings.ALERT_DIGEST_INTERVAL_DAYS,
    }
    return render(request, "privacy.html", context)


def server_error(request, template_name="500.html"):
    """The 500 page, rendered without context processors or the database (either may be
    what failed); it only needs the publisher's name from settings."""
    template = loader.get_template(template_name)
    return HttpResponseServerError(template.render({"PUBLISHER_NAME": settings.PUBLISHER_NAME}))

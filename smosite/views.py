"""Site-wide endpoints: /healthz, /robots.txt and the 500 page."""

import logging
import os

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

logger = logging.getLogger(__name__)

# Crawlers stay out of the admin and of the pages that only make sense after a click.
ROBOTS_DISALLOW = ("/admin/", "/enquiry/", "/purchase/")


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.exception("healthz: database unreachable")
        return f"error: {type(exc).__name__}"
    return "ok"


def broker_status() -> str:
    """Connects to the broker once, with a short timeout (no retry loop: a health check must
    answer quickly). The filesystem broker is reachable when its folders are writable."""
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return "ok" if os.access(folder, os.W_OK) else "error: broker folder not writable"
    timeout = settings.HEALTHZ_TIMEOUT_SECONDS
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=timeout,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:
        # The exception text may contain the broker URL with its password: log it, don't show it.
        logger.exception("healthz: broker unreachable")
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


@require_GET
def robots_txt(request):
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines += ["", f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


def server_error(request, template_name="500.html"):
    """The 500 page, rendered without context processors or the database (either may be
    what failed); it only needs the publisher's name from settings."""
    template = loader.get_template(template_name)
    return HttpResponseServerError(template.render({"PUBLISHER_NAME": settings.PUBLISHER_NAME}))

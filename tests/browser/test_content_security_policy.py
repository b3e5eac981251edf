"""Every public page and every admin page works under the Content-Security-Policy in
Chromium: no violation is reported (console or `securitypolicyviolation`), and the scripts
pages rely on (Bootstrap, the admin's inlines) still run."""

import contextlib

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from contacts.models import OutboundEmail
from enquiries.models import Enquiry, SampleRequest
from enquiries.services import enquiries
from orders.models import Order
from orders.services import downloads
from reports.services.seed import report_load_seed
from tests.factories import ContactFactory, EnquiryFactory, SampleRequestFactory, UserFactory
from tests.reports.orders_support import fulfilled_order, path_of

pytestmark = pytest.mark.django_db(transaction=True)

REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Violations:
    """Collects CSP reports from the console (every frame) and from the DOM event."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(LISTEN)
        page.on("console", self._console)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.console.append(text)

    def visit(self, url: str) -> list[str]:
        self.console.clear()
        response = self.page.goto(url)
        assert response is not None and response.status < 500, url
        self.page.wait_for_load_state("load")
        found = [*self.console]
        for frame in self.page.frames:
            try:
                found += frame.evaluate("window.__csp || []")
            except Exception:  # noqa: BLE001,S112 - a sandboxed frame runs no script at all
                continue
        return found


@pytest.fixture
def site(transactional_db, settings, live_server):
    settings.FORM_MIN_FILL_SECONDS = 0
    # The site's own origin, as in production: emails link their logo from SITE_URL, and the
    # mail log's preview loads it under the admin's img-src 'self'.
    settings.SITE_URL = live_server.url
    report = report_load_seed().report
    contact = ContactFactory(email="maria@clinsite.example", name="Maria Lopez")
    enquiry = EnquiryFactory(report=report, contact=contact)
    staff = UserFactory(username="root", is_superuser=True)
    enquiries.enquiry_reply_send(
        enquiry=enquiry, author=staff, subject="Your price", body="Dear Maria,\n\nHere."
    )
    sample = SampleRequestFactory(report=report, contact=contact)
    order, url = fulfilled_order(report)
    downloads.download_link_send(order=order, first=True)
    return {
        "report": report,
        "enquiry": enquiry,
        "sample": sample,
        "order": order,
        "download": path_of(url),
        "staff": staff,
    }


def test_the_policy_header_forbids_inline_scripts_without_the_nonce(client, site):
    response = client.get(REPORT_PATH)
    policy = response["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    admin_page = client.get("/admin/login/")
    assert "script-src" in admin_page["Content-Security-Policy"]


def test_the_listener_catches_a_violation(live_server, page, site):
    """The check below can fail: an injected inline handler is reported."""
    violations = Violations(page)
    violations.visit(f"{live_server.url}/privacy")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"1\">')")
    page.wait_for_function("window.__csp.length > 0")
    assert page.evaluate("window.__csp")


def test_public_pages_report_no_violation(live_server, page, site):
    violations = Violations(page)
    report = site["report"]
    sample = site["sample"]
    pages = [
        "/",
        "/?q=clinical&category=healthcare-services",
        f"{REPORT_PATH}?utm_source=newsletter",
        f"/enquiry/request-sample/{report.number}",
        f"/enquiry/pre-order-enquiry/{report.number}",
        f"/purchase/{report.number}",
        f"/enquiry/sample/{sample.public_token}",
        site["download"],
        "/privacy",
        "/no-such-page",
    ]
    found = {url: violations.visit(live_server.url + url) for url in pages}
    assert {url: v for url, v in found.items() if v} == {}
    violations.visit(live_server.url + REPORT_PATH)
    # No page loads a script (tests/smosite/test_lean_css.py): only JSON-LD data blocks.
    assert page.evaluate("[...document.scripts].every(s => s.type === 'application/ld+json')")

    # A form post answered with the page again (errors next to the fields) is clean too.
    violations.visit(f"{live_server.url}/enquiry/request-sample/{report.number}")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("load")
    assert violations.console == []


def admin_urls(site) -> list[str]:
    """Every registered model's list, add and change pages, plus the site's own pages."""
    urls = ["/admin/", "/admin/two-factor/", "/admin/orders/order/sales/"]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_Request(site["staff"])):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
            with contextlib.suppress(NoReverseMatch):
                urls.append(reverse("admin:{}_{}_history".format(*info), args=[first.pk]))
    return urls


class _Request:
    def __init__(self, user):
        self.user = user


def test_admin_pages_report_no_violation(live_server, page, site):
    page.context.add_cookies(_session_cookie(live_server, site["staff"]))
    violations = Violations(page)
    urls = admin_urls(site)
    assert (
        f"/admin/contacts/outboundemail/{OutboundEmail.objects.order_by('pk').first().pk}/change/"
        in urls
    )
    assert f"/admin/enquiries/enquiry/{Enquiry.objects.get().pk}/change/" in urls
    assert f"/admin/orders/order/{Order.objects.get().pk}/change/" in urls
    assert f"/admin/enquiries/samplerequest/{SampleRequest.objects.get().pk}/change/" in urls
    found = {url: violations.visit(live_server.url + url) for url in urls}
    assert {url: v for url, v in found.items() if v} == {}

    # The admin's own scripts run: "Add another" on the report's licence inline adds a row.
    violations.visit(f"{live_server.url}/admin/reports/report/{site['report'].pk}/change/")
    rows = page.locator("#licences-group tbody tr.form-row").count()
    page.locator("#licences-group .add-row a").click()
    assert page.locator("#licences-group tbody tr.form-row").count() == rows + 1
    assert violations.console == []


def _session_cookie(live_server, user) -> list[dict]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return [
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": session.session_key,
            "url": live_server.url,
        }
    ]

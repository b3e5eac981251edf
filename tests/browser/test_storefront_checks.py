"""Every public page, a buyer's account pages and the main admin pages in Chromium, as a
visitor and a signed-in buyer on a laptop (1280×800) and on a phone (390×844), and as a
superuser and a Sales member on both: axe-core finds no violation of serious or critical
impact, no page scrolls sideways on a phone (nor an admin page on a laptop), and a screenshot
of each page lands in var/screenshots/<page>-<width>.png (admin pages seen by Sales:
<page>-as-sales-<width>.png) for a person to look at (issue 26).

axe-core comes from npm (tests/browser/package.json, installed by `make test` with `npm ci`)
and is injected into each page; the contexts bypass the site's Content-Security-Policy for
that script only (the CSP itself has tests of its own)."""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from common.models import Job
from contacts.models import OutboundEmail
from contacts.services.outbox import JOB as OUTBOX_JOB
from enquiries.models import SampleRequest
from enquiries.services.samples import DELIVERY_TEMPLATE as SAMPLE_TEMPLATE
from orders.models import Order
from reports.services.seed import report_load_seed
from sales.models import Lead
from tests.accounts.support import multi_user_order, signed_in
from tests.factories import EnquiryFactory, SampleRequestFactory
from tests.reports.orders_support import BUYER, fulfilled_order
from tests.support.staff import sales_member, superuser

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SMALLEST_PHONE = {"width": 320, "height": 640}

# What only Django admin's stock markup breaks (its templates, not ours), left out on admin pages
# by rule *and* element, so the same rule still fails anywhere else:
# - label-title-only at #searchbar: admin/search_form.html labels the search box with an icon
#   (<label><img alt="Search"></label>), no visible words; axe flags it once a list has
#   search_help_text (aria-describedby), as the inbox has.
# - scrollable-region-focusable at a tabular inline's .wrapper: admin/edit_inline/tabular.html
#   wraps the table in a <div class="wrapper"> that scrolls sideways on a phone; an inline of
#   read-only rows (the order's timeline, its download links) has nothing in it to focus.
ADMIN_STOCK_MARKUP = {
    ("label-title-only", "#searchbar"),
    *(
        ("scrollable-region-focusable", f'fieldset[aria-labelledby="{prefix}-heading"] > .wrapper')
        for prefix in ("events", "deliverable", "download_links", "downloads", "edition_notices")
    ),
}

IMPACTS_THAT_FAIL = ("serious", "critical")


def public_pages(sample_token: str) -> dict[str, str]:
    return {
        "catalogue": "/",
        "search": "/?q=oncology",
        "report": REPORT_PATH,
        "sample-form": "/enquiry/request-sample/1780960",
        "enquiry-form": "/enquiry/pre-order-enquiry/1780960",
        "purchase": "/purchase/1780960",
        "sample-status": f"/enquiry/sample/{sample_token}",
        "terms": "/terms",
        "refunds": "/refunds",
        "contact": "/contact",
        "about": "/about",
        "privacy": "/privacy",
        "not-found": "/no-such-page",
        "sign-in": "/account/sign-in",
    }


ADMIN_PAGES = {
    "admin-index": "/admin/",
    "admin-inbox": "/admin/enquiries/enquiry/",
    "admin-orders": "/admin/orders/order/",
    "admin-mail-log": "/admin/contacts/outboundemail/",
    "admin-contacts": "/admin/contacts/contact/",
}

# The lists staff work from, each of which must show all its columns at 1280 px (issue 26:
# the inbox's SLA, the mail log's Status, the orders' Amount and "Needs attention" were cut off).
ADMIN_LISTS = {
    **{name: path for name, path in ADMIN_PAGES.items() if name != "admin-index"},
    "admin-samples": "/admin/enquiries/samplerequest/",
    "admin-leads": "/admin/sales/lead/",
}

# The results table's overflow on an admin list: how far it scrolls inside its container and
# how far its right edge lies past the window (0 and 0 when every column shows).
RESULTS_OVERFLOW = """() => {
    const table = document.querySelector("#result_list");
    if (!table) return null;
    const box = table.closest(".results") || table.parentElement;
    return {
        rows: table.tBodies[0].rows.length,
        inside: box.scrollWidth - box.clientWidth,
        past: Math.ceil(table.getBoundingClientRect().right - document.documentElement.clientWidth),
        columns: [...table.tHead.querySelectorAll("th .text")].map((text) => text.innerText.trim()).filter(Boolean),
    };
}"""

# The pages a buyer signed in by their emailed link sees (accounts/urls.py).
ACCOUNT_PAGES = {
    "account-my-reports": "/account/reports",
}


def admin_pages(sample: SampleRequest) -> dict[str, str]:
    """The lists, and the two pages staff mostly read rather than edit: a sample request and
    an order (issue 26: once 3,100–5,400 px of stacked "-")."""
    order = Order.objects.get(buyer_email=BUYER["email"])
    return {
        **ADMIN_PAGES,
        "admin-order": f"/admin/orders/order/{order.pk}/change/",
        "admin-sample": f"/admin/enquiries/samplerequest/{sample.pk}/change/",
    }


@pytest.fixture
def site(transactional_db, settings):
    """The seed report with a sample request, an enquiry and a paid order; Stripe configured
    so the purchase page shows its form (nothing here calls Stripe)."""
    settings.STRIPE_SECRET_KEY = "sk_test_storefront_checks"
    settings.ADMIN_REQUIRE_2FA = False
    report = report_load_seed().report
    sample = SampleRequestFactory(
        report=report, contact__email="jd@acme-pharma.example", status=SampleRequest.Status.EMAILED
    )
    EnquiryFactory(report=report, contact=sample.contact)
    fulfilled_order(report)
    return sample


@contextmanager
def new_tab(browser, signed_in_client: Client | None = None, base: str = ""):
    """A tab in a context of its own (its own cookies) whose viewport each check sets; CSP
    bypassed so axe-core can be injected. With `signed_in_client`, the tab shares that test
    client's session: signed in as whoever the client is."""
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(20_000)
    if signed_in_client is not None:
        session = signed_in_client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": base}]
        )
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def tab(browser):
    with new_tab(browser) as page:
        yield page


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def axe_problems(tab, name: str, stock_markup=frozenset()) -> list[str]:
    """axe-core's violations of serious or critical impact on the open page, one line each,
    leaving out the (rule, element) pairs in `stock_markup`."""
    assert AXE_SCRIPT.exists(), "axe-core is missing: npm ci --prefix tests/browser"
    tab.add_script_tag(path=str(AXE_SCRIPT))
    options = {"resultTypes": ["violations"]}
    violations = tab.evaluate(
        "async (options) => (await axe.run(document, options)).violations", options
    )
    problems = []
    for violation in violations:
        if violation["impact"] not in IMPACTS_THAT_FAIL:
            continue
        rule = violation["id"]
        targets = [" ".join(node["target"]) for node in violation["nodes"]]
        ours = [target for target in targets if (rule, target) not in stock_markup]
        if ours:
            problems.append(
                f"{name}: axe {rule} ({violation['impact']}): {violation['help']} at {', '.join(ours[:3])}"
            )
    return problems


def sideways_scroll(tab) -> int:
    """How many pixels the page is wider than the screen (0 when it fits)."""
    return tab.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def visit(tab, base: str, path: str, name: str) -> None:
    response = tab.goto(base + path)
    expected = 404 if name == "not-found" else 200
    assert response.status == expected, f"{name}: {path} answered {response.status}"


def test_public_pages_pass_axe_fit_a_phone_and_are_photographed(live_server, site, tab):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = public_pages(site.public_token)
    problems = []
    for viewport in (DESKTOP, PHONE):
        tab.set_viewport_size(viewport)
        width = viewport["width"]
        for name, path in pages.items():
            visit(tab, live_server.url, path, name)
            if width < 992 and (extra := sideways_scroll(tab)) > 0:
                problems.append(f"{name}: scrolls sideways by {extra} px at {width} px")
            tab.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
            problems += axe_problems(tab, f"{name} at {width} px")
    tab.set_viewport_size(SMALLEST_PHONE)  # the forms fit the narrowest phones too
    for name in ("report", "sample-form", "enquiry-form", "purchase", "sign-in"):
        visit(tab, live_server.url, pages[name], name)
        if (extra := sideways_scroll(tab)) > 0:
            problems.append(f"{name}: scrolls sideways by {extra} px at 320 px")
    assert not problems, "\n".join(problems)


def test_buyer_account_pages_pass_axe_fit_a_phone_and_are_photographed(live_server, site, browser):
    """Signed in as the buyer of the fixture's single-user order, with a multi-user order
    too, so My reports shows its seats and the form naming a colleague."""
    multi_user_order(site.report, email=BUYER["email"])
    buyer = signed_in(Client(), BUYER["email"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with new_tab(browser, buyer, live_server.url) as tab:
        for viewport in (DESKTOP, PHONE, SMALLEST_PHONE):
            tab.set_viewport_size(viewport)
            width = viewport["width"]
            for name, path in ACCOUNT_PAGES.items():
                visit(tab, live_server.url, path, name)
                assert "/sign-in" not in tab.url, f"{name}: not signed in"
                assert tab.locator("form.seat-add").count() == 1, "no seat form"
                if width < 992 and (extra := sideways_scroll(tab)) > 0:
                    problems.append(f"{name}: scrolls sideways by {extra} px at {width} px")
                if viewport is SMALLEST_PHONE:
                    continue
                tab.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
                problems += axe_problems(tab, f"{name} at {width} px")
    assert not problems, "\n".join(problems)


def test_admin_pages_pass_axe_and_fit_a_laptop_as_superuser_and_as_sales(
    live_server, site, browser
):
    """The same pages for both: Sales may list and view each (README, "Who may do what in
    admin"); the order and sample pages are read-only to Sales, the order's attention flag
    editable by the superuser. One context per user."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = admin_pages(site)
    problems = []
    for who, user in (("", superuser()), ("-as-sales", sales_member())):
        with new_tab(browser, staff_client(user), live_server.url) as tab:
            for viewport in (DESKTOP, PHONE):
                tab.set_viewport_size(viewport)
                width = viewport["width"]
                for name, path in pages.items():
                    visit(tab, live_server.url, path, name + who)
                    assert "/login/" not in tab.url, f"{name}{who}: not signed in"
                    if (extra := sideways_scroll(tab)) > 0:
                        problems.append(
                            f"{name}{who}: scrolls sideways by {extra} px at {width} px"
                        )
                    tab.screenshot(path=SCREENSHOTS / f"{name}{who}-{width}.png", full_page=True)
                    problems += axe_problems(
                        tab, f"{name}{who} at {width} px", stock_markup=ADMIN_STOCK_MARKUP
                    )
    assert not problems, "\n".join(problems)


def mail_log_rows(sample: SampleRequest) -> None:
    """The sample's email, sent, and a receipt that failed for good with a real server's
    refusal (the delivery column's longest text)."""
    sent = OutboundEmail.objects.create(
        to=sample.email,
        from_email="reports@localhost",
        subject=f"Your sample: {sample.report.title}",
        template=SAMPLE_TEMPLATE,
        message_id=OutboundEmail.new_message_id(),
        status=OutboundEmail.Status.SENT,
        sent_at=timezone.now(),
        related=sample,
        contact=sample.contact,
    )
    failed = OutboundEmail.objects.create(
        to=sample.email,
        from_email="reports@localhost",
        subject="Your receipt for order SMO-2026-000123",
        template="reports/email/receipt",
        message_id=OutboundEmail.new_message_id(),
        status=OutboundEmail.Status.FAILED,
        last_error=SMTP_REFUSAL,
    )
    Job.objects.create(kind=OUTBOX_JOB, target_id=sent.pk, state="done", attempts=1)
    Job.objects.create(
        kind=OUTBOX_JOB, target_id=failed.pk, state="failed", attempts=6, last_error=SMTP_REFUSAL
    )


SMTP_REFUSAL = (
    "SMTPRecipientsRefused: {'procurement.clinical-operations@boehringer-ingelheim.example': "
    "(550, b'5.1.1 The email account that you tried to reach does not exist.')}"
)


def test_admin_lists_show_every_column_at_1280_as_superuser_and_as_sales(
    live_server, site, browser
):
    """Every main list, with rows in it (one with a long company name and address, as real
    buyers have), fits a 1280 px laptop: the results table neither scrolls inside its box
    nor runs past the window, so the last column (the inbox's first response, the mail log's
    status, the orders' amount and attention flag) is on screen (issue 26)."""
    long_name = {
        "contact__company": "Boehringer Ingelheim International GmbH",
        "contact__email": "procurement.clinical-operations@boehringer-ingelheim.example",
        "contact__name": "Dr. Anna-Katharina Oberhuber-Schmidt",
        "contact__job_title": "Senior Director, Clinical Outsourcing and Vendor Management",
        "contact__country": "DE",
    }
    campaign = {"utm_source": "linkedin", "utm_medium": "paid-social"}
    campaign["utm_campaign"] = "2026-q4-clinical-trials-sponsored-content"
    sample = SampleRequestFactory(report=site.report, **long_name, **campaign)
    lead = sample.contact
    EnquiryFactory(report=site.report, contact=lead, **campaign)
    Lead.objects.update_or_create(  # the contact's lead, scored high enough to call
        contact=lead,
        defaults={
            "score": 90,
            "reasons": [
                {"text": "asked for a quote on a multi-user licence", "points": 40},
                {"text": "a company address, not free mail", "points": 20},
                {"text": "requested two samples in a week", "points": 30},
            ],
            "due_at": timezone.now() + timedelta(days=1),
            "last_outcome": Lead.Outcome.NO_ANSWER,
            "last_called_at": timezone.now(),
        },
    )
    order, _ = fulfilled_order(  # a colleague's order: the lead itself has not bought
        site.report,
        email="accounts-payable.clinical-operations@boehringer-ingelheim.example",
        company=long_name["contact__company"],
    )
    Order.objects.filter(pk=order.pk).update(
        buyer_name=long_name["contact__name"],
        amount_paid=Decimal("124500.00"),
        needs_attention=True,
        attention_note="The bank transfer's reference names another order.",
    )
    mail_log_rows(sample)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for who, user in (("", superuser()), ("-as-sales", sales_member())):
        with new_tab(browser, staff_client(user), live_server.url) as tab:
            tab.set_viewport_size(DESKTOP)
            for name, path in ADMIN_LISTS.items():
                visit(tab, live_server.url, path, name + who)
                found = tab.evaluate(RESULTS_OVERFLOW)
                assert found and found["rows"], f"{name}{who}: no rows listed"
                # What a person sees on opening the list, beside the full-page shots above.
                tab.screenshot(path=SCREENSHOTS / f"{name}{who}-rows-1280.png")
                if found["inside"] > 0 or found["past"] > 0:
                    problems.append(
                        f"{name}{who}: the results scroll sideways by {found['inside']} px in "
                        f"their box and end {max(found['past'], 0)} px past the window"
                        f" (columns: {' | '.join(found['columns'])})"
                    )
    assert not problems, "\n".join(problems)

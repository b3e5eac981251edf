"""Every email the outbox sends is branded and has a text twin: each kind is rendered with a
context shaped like its service's, built into the message the SMTP backend sends (CSS
inlined by css-inline, no <style> left), and opened in Chromium at 600 px and 320 px: nothing
may scroll sideways."""

import email.policy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from contacts.models import OutboundEmail
from contacts.services.outbox import _build_message, _render

TEMPLATES = Path(settings.BASE_DIR) / "templates"
LONG_TITLE = "Clinical Trials Site Management Organizations Market, 2025–2032"
COMPANY = "Pfizer Example Inc."
REPORT = {
    "title": LONG_TITLE,
    "number": "1780960",
    "status": "published",
    "cagr_percent": Decimal("13.7"),
    "forecast_period": "2025–2032",
}
LICENCE = {"description": "Unlimited users across your organisation.", "get_kind_display": "Enterprise", "currency": "USD", "price": Decimal("7900")}  # fmt: skip
ORDER = {
    "reference": "R-7KQ2M4",
    "buyer_name": "Zoë Ünal",
    "buyer_company": COMPANY,
    "buyer_vat_id": "DE123456789",
    "paid_at": datetime(2026, 12, 6, 10, tzinfo=UTC),
    "licence_name": "Enterprise",
    "licence_kind": "enterprise",
    "licence": LICENCE,
    "currency": "USD",
    "amount_subtotal": Decimal("7900"),
    "amount_discount": Decimal("0"),
    "amount_paid": Decimal("7900"),
    "payment_method_description": "Visa ending 4242",
}
CONTACT = {
    "name": "Zoë Ünal",
    "email": "zoe@pfizer-example.com",
    "company": COMPANY,
    "job_title": "Head of Clinical Operations",
    "country": {"name": "Germany"},
    "phone": "+49 30 1234567",
}
ENQUIRY = {
    "reference": "E-2026-0042",
    "question": "Does the report split the market by trial phase?\nAnd by therapeutic area?",
    "get_type_display": "Pre-order question",
    "licence": LICENCE,
    "utm_source": "google",
}
SAMPLE_REQUEST = {
    **CONTACT,
    "report": REPORT,
    "message": "Please include the oncology segment.",
    "utm_source": "linkedin",
}
URL = "https://reports.example.com/global-clinical-trials-site-management-organizations-market-r1780960/purchase/?licence=enterprise&utm_source=email"  # fmt: skip
CONTEXTS = {
    "enquiries/email/sample_request": {
        "sample_request": SAMPLE_REQUEST,
        "report": REPORT,
        "buy_url": URL,
        "ask_url": URL,
        "report_url": URL,
        "status_url": URL,
    },
    "enquiries/email/sample_request_staff": {"sample_request": SAMPLE_REQUEST, "admin_url": URL},
    "enquiries/email/enquiry_acknowledgement": {
        "contact": CONTACT,
        "enquiry": ENQUIRY,
        "report": REPORT,
        "report_url": URL,
        "promise": "one business day",
        "due_at": datetime(2026, 12, 7, 16, tzinfo=UTC),
        "business_tz": "Europe/London",
    },
    "enquiries/email/enquiry_staff_notification": {
        "contact": CONTACT,
        "enquiry": ENQUIRY,
        "report": REPORT,
        "admin_url": URL,
        "due_at": datetime(2026, 12, 7, 16, tzinfo=UTC),
        "business_tz": "Europe/London",
    },
    "enquiries/email/enquiry_reply": {
        "reply": {
            "subject": f"Re: {LONG_TITLE} — your question E-2026-0042",
            "body": "Dear Zoë,\n\nYes: chapter 3 splits the market by phase.",
            "purchase_url": URL,
            "quoted_price": Decimal("6900"),
            "quoted_currency": "USD",
            "licence": LICENCE,
            "sample_path": "samples/x.pdf",
        },
        "quote_valid_until": datetime(2026, 12, 20, tzinfo=UTC),
        "staff_name": "Sam Analyst",
        "enquiry": ENQUIRY,
        "report": REPORT,
        "question_lines": ENQUIRY["question"].splitlines(),
    },
    "enquiries/email/report_published": {
        "contact": CONTACT,
        "report": REPORT,
        "report_url": URL,
        "purchase_url": URL,
    },
    "orders/email/order_receipt": {"order": ORDER, "report": REPORT},
    "orders/email/order_download_link": {
        "order": ORDER,
        "report": REPORT,
        "first": True,
        "url": URL,
        "link": {"max_downloads": 5, "expires_at": datetime(2027, 1, 5, tzinfo=UTC)},
    },
    "orders/email/order_payment_failed": {"order": ORDER, "report": REPORT},
    "orders/email/new_edition": {
        "order": ORDER,
        "report": REPORT,
        "edition": {"edition_date": datetime(2027, 3, 1, tzinfo=UTC), "note": "New chapter."},
        "name": "Zoë Ünal",
        "seat": {"number": 2, "name": "Zoë Ünal"},
        "seats": 5,
        "url": URL,
        "link": {"max_downloads": 5, "expires_at": datetime(2027, 4, 5, tzinfo=UTC)},
    },
    "orders/email/edition_upgrade_offer": {
        "order": {**ORDER, "buyer_email": "zoe@pfizer-example.com"},
        "report": REPORT,
        "edition": {
            "edition_date": datetime(2027, 3, 1, tzinfo=UTC),
            "upgrade_discount_percent": 30,
        },
        "notice": {"offer_currency": "USD", "offer_price": Decimal("5530")},
        "url": URL,
        "valid_days": 14,
        "unsubscribe_url": URL,
        "preferences_url": URL,
    },
    "orders/email/checkout_reminder": {
        "order": {
            **ORDER,
            "price": Decimal("7900"),
            "recovery_url": URL,
            "recovery_expires_at": datetime(2026, 12, 13, tzinfo=UTC),
        },
        "report": REPORT,
        "unsubscribe_url": f"{URL}&unsubscribe=1",
        "preferences_url": f"{URL}&preferences=1",
    },
    "orders/email/seat_download_link": {
        "order": ORDER,
        "report": REPORT,
        "seat": {"name": "Ana Müller-Lüdenscheidt", "number": 2},
        "seats": 5,
        "first": True,
        "url": URL,
        "link": {"max_downloads": 5, "expires_at": datetime(2027, 1, 5, tzinfo=UTC)},
    },
    "accounts/email/sign_in_link": {
        "url": "https://reports.example.com/account/sign-in/confirm/?sesame=-",
        "minutes": 15,
    },
    "enquiries/email/followup": {
        "subject": f"Any questions about {LONG_TITLE}?",
        "body": (
            "Dear Zoë,\n\nTwo days ago you asked for the free sample of "
            f"{LONG_TITLE}. If anything in it raised a question, just reply to this email.\n\n"
            "Here is what the full report covers:\n- Executive summary\n- Market by trial phase\n\n"
            f"The full report: {URL}\n\nKind regards,\nReliable Research IQ"
        ),
        "unsubscribe_url": f"{URL}&unsubscribe=1",
        "preferences_url": f"{URL}&preferences=1",
    },
    "enquiries/email/customer_replied": {
        "enquiry": {**ENQUIRY, "report": REPORT},
        "contact": CONTACT,
        "inbound": {
            "subject": f"Re: {LONG_TITLE} — your question E-2026-0042",
            "body_text": "Thanks, that helps.\nCould you quote the Enterprise licence in EUR?",
            "attachments": [{"name": "purchase-order-2026-0117-pfizer-example.pdf"}],
            "refused_attachments": [{"name": "macro.xlsm", "reason": "not an allowed type"}],
        },
        "owner_name": "Sam Analyst",
        "admin_url": URL,
        "due_at": datetime(2026, 12, 7, 16, tzinfo=UTC),
        "business_tz": "Europe/London",
    },
    "enquiries/email/followup_replied": {
        "contact": CONTACT,
        "report": REPORT,
        "inbound": {
            "body_text": "Thanks for the sample.\nCould you quote the Enterprise licence in EUR?",
            "attachments": [{"name": "purchase-order-2026-0117-pfizer-example.pdf"}],
        },
        "inbound_url": URL,
        "follow_up_url": URL,
    },
    "reports/email/alert_confirm": {
        "category": {"name": "Clinical Trials & Pharmaceutical Services"},
        "consent_text": "Email me about new reports in Clinical Trials & Pharmaceutical Services from Reliable Research IQ, at most weekly.",  # fmt: skip
        "confirm_url": "https://reports.example.com/alerts/confirm/MTI:1tXyZa:k2QwErTyUiOpAsDfGhJkLzXcVbNm",  # fmt: skip
        "confirm_days": 7,
    },
    "reports/email/alert_digest": {
        "sections": [
            (
                {"name": "Clinical Trials & Pharmaceutical Services"},
                [
                    {
                        "title": LONG_TITLE,
                        "get_absolute_url": "/global-clinical-trials-site-management-organizations-market-r1780960/",
                    },
                    {
                        "title": "Decentralised Clinical Trials Market, 2025–2032",
                        "get_absolute_url": "/decentralised-clinical-trials-market-r1780961/",
                    },
                ],
            )
        ],
        "unsubscribe_url": f"{URL}&unsubscribe=1",
        "preferences_url": f"{URL}&preferences=1",
    },
}


def test_every_email_kind_the_outbox_sends_is_covered_here():
    kinds = {
        str(path.relative_to(TEMPLATES)).removesuffix("_subject.txt")
        for path in TEMPLATES.glob("*/email/*_subject.txt")
    }
    assert kinds == set(CONTEXTS)


def _message(template: str) -> tuple[str, str, str]:
    """(subject, text, html) as sent: rendered by the outbox, built into the MIME message the
    SMTP backend writes, and parsed back."""
    subject, text, html = _render(template, CONTEXTS[template])
    row = OutboundEmail(
        to="zoe@pfizer-example.com",
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=subject,
        template="",  # no secret to fill in (a download link's token would need an order row)
        body_text=text,
        body_html=html,
        message_id="<x@example>",
    )
    raw = _build_message(row).message(policy=email.policy.SMTP).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    sent_text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    sent_html = parsed.get_body(("html",)).get_content()
    return str(parsed["Subject"]), sent_text, sent_html


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_each_email_has_a_branded_html_part_with_inlined_css_and_a_text_twin(template, settings):
    settings.PUBLISHER_LEGAL_NAME = "Reliable Research IQ Ltd"
    settings.PUBLISHER_ADDRESS = "1 Example Street, London EC1A 1AA"
    settings.PUBLISHER_VAT_NUMBER = "GB 123 4567 89"
    settings.PUBLISHER_PHONE = "+44 20 7946 0000"
    subject, text, html = _message(template)

    assert subject and "\n" not in subject
    assert "<style" not in html.lower()  # inlined, not left for a client that drops it
    assert 'class="brand" style="' in html and "email-logo" in html
    assert 'style="' in html.split('class="content"', 1)[1][:40]  # the content cell, styled
    assert "You receive this email because" in html
    for part in (html, text):
        assert "Reliable Research IQ Ltd" in part
        assert "1 Example Street, London EC1A 1AA" in part
        assert "GB 123 4567 89" in part
    assert "You receive this email because" in text
    assert "<p>" not in text and "&lt;" not in text  # the twin is text, not markup
    assert ".." not in text.replace("...", "") and ".." not in html.replace("...", "")


def test_the_receipt_names_the_seller_and_the_sample_email_says_inc_once():
    _, text, html = _message("orders/email/order_receipt")
    assert "Seller:    Reliable Research IQ" in text and "<th" in html and "Seller" in html
    assert "licensed to Pfizer Example Inc. A separate" in text
    _, text, html = _message("enquiries/email/sample_request")
    assert "prepared for you at Pfizer Example Inc.\n" in text
    assert "at Pfizer Example Inc.</p>" in html


@pytest.mark.django_db
@pytest.mark.parametrize("width", [600, 320])
def test_every_html_email_fits_the_screen_without_sideways_scrolling(browser, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.route("**/*", lambda route: route.abort())  # an email loads nothing from the site
    try:
        tab = context.new_page()
        for template in sorted(CONTEXTS):
            tab.set_content(_message(template)[2])
            overflow = tab.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
                " [...document.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right"
                " > document.documentElement.clientWidth + 0.5).map(e => e.outerHTML.slice(0, 80))]"
            )
            scroll_width, client_width, outside = overflow
            assert scroll_width <= client_width, (template, width, outside[:3])
            assert outside == [], (template, width, outside[:3])
    finally:
        context.close()

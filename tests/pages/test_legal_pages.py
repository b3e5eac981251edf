"""Legal and trust pages: seeded by a migration, edited by staff as new versions (old ones
kept and still readable), linked from every page's footer, the purchase page and receipts;
an order records which terms version the buyer accepted."""

import pytest

from contacts.services.outbox import _render
from pages.models import PageVersion
from pages.services import page_version_create, page_version_publish

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/terms", "Terms of sale"),
        ("/refunds", "Refund policy"),
        ("/contact", "Contact us"),
        ("/about", "About us"),
    ],
)
def test_each_seeded_page_is_published_and_linked_from_the_footer(client, url, title):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<h1 class="h3">{title}</h1>' in page
    assert "Version 1, published" in page
    for link in ('href="/terms"', 'href="/refunds"', 'href="/contact"', 'href="/about"'):
        assert link in page


def test_contact_page_names_the_seller_from_settings(client, settings):
    settings.PUBLISHER_LEGAL_NAME = "Example Research GmbH"
    settings.PUBLISHER_ADDRESS = "Musterstraße 1, 10115 Berlin, Germany"
    settings.PUBLISHER_VAT_NUMBER = "DE 123456789"
    settings.PUBLISHER_PHONE = "+49 30 1234 5678"
    page = client.get("/contact").content.decode()
    for value in ("Example Research GmbH", "Musterstraße 1, 10115 Berlin", "DE 123456789"):
        assert value in page
    assert 'href="tel:+493012345678"' in page


def test_a_new_version_replaces_the_page_and_the_old_one_stays_readable(client):
    draft = page_version_create(page="terms", title="Terms of sale", body="Version two words.")
    assert draft.number == 2
    assert "Version two words." not in client.get("/terms").content.decode()  # a draft
    assert client.get("/terms/v2").status_code == 404

    page_version_publish(version=draft)

    current = client.get("/terms").content.decode()
    assert "Version two words." in current and "Version 2, published" in current
    old = client.get("/terms/v1")
    assert old.status_code == 200
    assert "an earlier version" in old.content.decode()
    assert '<meta name="robots" content="noindex">' in old.content.decode()
    assert PageVersion.objects.filter(page="terms").count() == 2


def test_staff_edit_in_admin_a_published_version_is_read_only(admin_client):
    admin_client.post(
        "/admin/pages/pageversion/add/",
        {"page": "refunds", "title": "Refund policy", "body": "New refund words."},
    )
    draft = PageVersion.objects.get(page="refunds", number=2)
    assert draft.published_at is None and draft.created_by.is_superuser
    admin_client.post(
        "/admin/pages/pageversion/",
        {"action": "publish", "_selected_action": [draft.pk]},
    )
    assert "New refund words." in admin_client.get("/refunds").content.decode()

    published = PageVersion.objects.get(page="refunds", number=1)
    admin_client.post(
        f"/admin/pages/pageversion/{published.pk}/change/",
        {"page": "refunds", "title": "Changed", "body": "Rewritten history."},
    )
    published.refresh_from_db()
    assert published.title == "Refund policy" and "Rewritten" not in published.body


def test_the_receipt_links_to_the_accepted_terms_version():
    terms = PageVersion.objects.get(page="terms", number=1)
    order = {"reference": "SMO-2026-000001", "terms_version": terms, "buyer_company": "Acme"}
    _, text, html = _render(
        "orders/email/order_receipt", {"order": order, "report": {"number": "1"}}
    )
    assert "Terms of sale, version 1" in text and "/terms/v1" in text
    assert "/terms/v1" in html and "/refunds" in html

"""Staff edit reports in the admin: every part inline, regions' countries on the region's
page, status filters, and the quality-check panel on a report's change page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from reports.models import Category, Region, Report
from tests.factories import CategoryFactory, LicenceFactory, ReportFactory

pytestmark = pytest.mark.django_db

REPORT_INLINES = (
    "licences",
    "dynamics",
    "segments",
    "regions",
    "key_players",
    "toc_entries",
    "faqs",
)


def empty_inlines(*prefixes: str) -> dict:
    data = {}
    for prefix in prefixes:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def report_form(category: Category, **fields) -> dict:
    data = {
        "number": "3000001",
        "title": "Dental Implants Market, 2025–2030",
        "slug": "global-dental-implants-market",
        "market_name": "Dental Implants",
        "category": str(category.pk),
        "status": "draft",
        "summary": "A summary.",
        "analysis": "An analysis.",
        "cagr_percent": "7.5",
        "forecast_start_year": "2025",
        "forecast_end_year": "2030",
        "market_size_currency": "USD",
        "edition_date": "2025-06-01",
    }
    return data | fields | empty_inlines(*REPORT_INLINES)


def test_report_changelist_filters_by_status_and_searches_by_number(admin_client, seed_report):
    ReportFactory(title="Upcoming Gadgets Market", status=Report.Status.UPCOMING)
    url = reverse("admin:reports_report_changelist")
    upcoming = admin_client.get(url, {"status__exact": "upcoming"}).content.decode()
    assert "Upcoming Gadgets Market" in upcoming and seed_report.title not in upcoming
    found = admin_client.get(url, {"q": "1780960"}).content.decode()
    assert seed_report.title in found and "Upcoming Gadgets Market" not in found


def test_report_change_page_edits_every_part_inline(admin_client, seed_report):
    response = admin_client.get(reverse("admin:reports_report_change", args=[seed_report.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for prefix in REPORT_INLINES:
        assert f'name="{prefix}-TOTAL_FORMS"' in html, prefix
    assert 'value="Clinedge"' in html and 'value="3900.00"' in html
    # Each region links to its own page, where its countries are edited.
    latin_america = Region.objects.get(report=seed_report, name="Latin America")
    assert reverse("admin:reports_region_change", args=[latin_america.pk]) in html
    assert "Mexico, Brazil, Argentina, Colombia" in html


def test_report_change_page_warns_about_quality_findings(admin_client, seed_report):
    html = admin_client.get(
        reverse("admin:reports_report_change", args=[seed_report.pk])
    ).content.decode()
    panel = html[html.index('class="report-quality"') : html.index("</section>")]
    assert "Quality check: 2 findings" in panel
    assert "states a growth rate of 6–8%, but the report&#x27;s CAGR is 13.7%" in panel
    assert "No market size for 2025" in panel
    assert "manage.py check_report 1780960" in panel


def test_report_without_findings_shows_no_warning_panel(admin_client):
    report = ReportFactory(base_year_market_size=Decimal("100"))
    LicenceFactory(report=report)
    html = admin_client.get(reverse("admin:reports_report_change", args=[report.pk])).content
    assert b'class="report-quality"' not in html


def licence_inline(price="3900.00") -> dict:
    return {
        "licences-TOTAL_FORMS": "1",
        "licences-0-position": "0",
        "licences-0-kind": "single",
        "licences-0-description": "One named user.",
        "licences-0-max_users": "1",
        "licences-0-price": price,
        "licences-0-currency": "USD",
        "licences-0-is_active": "on",
    }


def test_staff_add_a_report_and_publishing_stamps_the_date(admin_client):
    category = CategoryFactory()
    response = admin_client.post(
        reverse("admin:reports_report_add"),
        report_form(category, status="published") | licence_inline(),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    report = Report.objects.get(number=3000001)
    assert report.status == Report.Status.PUBLISHED and report.published_at is not None
    assert report.quality_open_errors == 0


def test_staff_change_the_status_without_touching_the_parts(admin_client, seed_report):
    data = report_form(
        seed_report.category,
        number=str(seed_report.number),
        slug=seed_report.slug,
        title=seed_report.title,
        status="upcoming",
    )
    url = reverse("admin:reports_report_change", args=[seed_report.pk])
    assert admin_client.post(url, data).status_code == 302
    seed_report.refresh_from_db()
    assert seed_report.status == Report.Status.UPCOMING
    assert seed_report.licences.count() == 3 and seed_report.regions.count() == 5


def test_region_page_edits_its_countries(admin_client, seed_report):
    region = Region.objects.get(report=seed_report, name="Latin America")
    url = reverse("admin:reports_region_change", args=[region.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="countries-TOTAL_FORMS"' in html and 'value="AR" selected' in html
    rows = list(region.countries.all())
    data = {
        "report": str(seed_report.pk),
        "name": region.name,
        "share_percent": "",
        "commentary": "",
        "position": str(region.position),
        "countries-TOTAL_FORMS": str(len(rows) + 1),
        "countries-INITIAL_FORMS": str(len(rows)),
    }
    for i, row in enumerate(rows):
        data |= {
            f"countries-{i}-id": str(row.pk),
            f"countries-{i}-region": str(region.pk),
            f"countries-{i}-position": str(row.position),
            f"countries-{i}-country": row.country.code,
        }
    data |= {f"countries-{len(rows)}-position": "9", f"countries-{len(rows)}-country": "CL"}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [c.country.code for c in region.countries.all()] == ["MX", "BR", "AR", "CO", "CL"]


def test_region_list_shows_report_and_country_count(admin_client, seed_report):
    html = admin_client.get(reverse("admin:reports_region_changelist")).content.decode()
    assert "Middle East &amp; Africa" in html
    assert reverse("admin:reports_report_change", args=[seed_report.pk]) in html


def test_staff_add_a_category(admin_client):
    response = admin_client.post(
        reverse("admin:reports_category_add"),
        {"name": "Medical Devices", "slug": "medical-devices"},
    )
    assert response.status_code == 302
    assert Category.objects.filter(slug="medical-devices").exists()


def test_saving_or_publishing_a_report_in_admin_renders_nothing(admin_client):
    from reports.models import ReportDocument

    category = CategoryFactory()
    data = report_form(category, status="published") | licence_inline()
    assert admin_client.post(reverse("admin:reports_report_add"), data).status_code == 302
    report = Report.objects.get(number=3000001)
    url = reverse("admin:reports_report_change", args=[report.pk])
    data = report_form(category, status="published", summary="A rewritten summary.")
    assert admin_client.post(url, data).status_code == 302  # its licence stays as saved
    assert not ReportDocument.objects.filter(report=report).exists()


def test_report_change_page_shows_the_pdf_panel(admin_client, seed_report):
    response = admin_client.get(reverse("admin:reports_report_change", args=[seed_report.pk]))
    assert b"PDF documents" in response.content

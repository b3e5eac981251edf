"""The seed loader: the report's facts arrive as structured data, the landing page's country
errors are corrected and reported, and loading twice changes nothing."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from reports.models import KeyPlayer, Licence, Region, Report
from reports.services.seed import report_load_seed

pytestmark = pytest.mark.django_db


def region_codes(report: Report, name: str) -> list[str]:
    region = Region.objects.get(report=report, name=name)
    return [row.country.code for row in region.countries.all()]


def test_loader_reports_each_country_correction():
    result = report_load_seed()
    assert result.created
    assert result.corrections == [
        'Latin America: "Argentina Korea" is not a country; kept Argentina.',
        'Middle East & Africa: joined "Saudi" and "Arabia" into Saudi Arabia.',
        'Middle East & Africa: dropped "Korea" (South Korea), which is not in Middle East & Africa.',
    ]


def test_loader_stores_real_countries_in_their_regions():
    report = report_load_seed().report
    assert region_codes(report, "Latin America") == ["MX", "BR", "AR", "CO"]
    assert region_codes(report, "Middle East & Africa") == ["TR", "SA", "AE"]
    assert region_codes(report, "North America") == ["US", "CA"]
    assert "KR" in region_codes(report, "Asia-Pacific")
    assert "TW" in region_codes(report, "Asia-Pacific")  # "China Taiwan" on the landing page


def test_loader_keeps_both_growth_texts_for_staff_to_decide():
    report = report_load_seed().report
    assert report.cagr_percent == Decimal("13.70")
    assert "CAGR of 6–8%" in report.opportunities
    assert "13.7%" in report.summary


def test_loader_carries_the_seed_facts_as_structured_data():
    report = report_load_seed().report
    assert (report.number, report.forecast_period) == (1780960, "2025–2032")
    assert report.base_year_market_size is None
    assert report.status == Report.Status.PUBLISHED and report.published_at is not None
    assert list(report.key_players.values_list("name", flat=True)) == [
        "Clinedge",
        "WCG",
        "ClinChoice",
        "Access Clinical Research",
    ]
    assert KeyPlayer.objects.get(report=report, name="WCG").revenue_musd == Decimal("500")
    assert report.segments.filter(dimension="type").count() == 4
    assert report.segments.filter(dimension="application").count() == 8
    shares = dict(report.regions.values_list("name", "share_percent"))
    assert shares["North America"] == Decimal("40") and shares["Asia-Pacific"] == Decimal("20")
    prices = dict(Licence.objects.filter(report=report).values_list("kind", "price"))
    assert prices == {
        "single": Decimal("3900"),
        "multi": Decimal("5900"),
        "enterprise": Decimal("7900"),
    }


def test_loading_twice_keeps_staff_edits():
    report = report_load_seed().report
    Report.objects.filter(pk=report.pk).update(title="Edited by staff")
    again = report_load_seed()
    assert not again.created and not again.updated and again.corrections == []
    assert Report.objects.get(pk=report.pk).title == "Edited by staff"
    assert Report.objects.count() == 1 and Region.objects.count() == 5


def test_update_reloads_from_the_file_without_duplicating_parts():
    report = report_load_seed().report
    Report.objects.filter(pk=report.pk).update(title="Edited by staff")
    result = report_load_seed(update=True)
    assert result.updated and len(result.corrections) == 3
    report.refresh_from_db()
    assert report.title.startswith("Clinical Trials Site Management")
    assert report.regions.count() == 5 and report.licences.count() == 3


def test_load_seed_report_command_says_what_it_corrected():
    out = StringIO()
    call_command("load_seed_report", stdout=out)
    printed = out.getvalue()
    assert "Created report 1780960" in printed
    assert (
        'corrected: Latin America: "Argentina Korea" is not a country; kept Argentina.' in printed
    )
    assert 'joined "Saudi" and "Arabia" into Saudi Arabia.' in printed
    assert 'dropped "Korea" (South Korea)' in printed
    out = StringIO()
    call_command("load_seed_report", stdout=out)
    assert "already loaded; nothing changed" in out.getvalue()

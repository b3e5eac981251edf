"""The report quality check (reports/services/quality.py) and `manage.py check_report`."""

import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from reports.models import Licence, Region, RegionCountry, Report
from reports.services.quality import growth_statements, report_quality_findings
from tests.factories import LicenceFactory, RegionCountryFactory, RegionFactory, ReportFactory
from tests.support.worker import database_url

pytestmark = pytest.mark.django_db


def codes(report) -> list[tuple[str, str]]:
    return [(f.severity, f.code) for f in report_quality_findings(report=report)]


def clean_report(**fields) -> Report:
    report = ReportFactory(**{"base_year_market_size": Decimal("1200"), **fields})
    LicenceFactory(report=report)
    return report


# --- On the seed --------------------------------------------------------------------------


def test_seed_is_flagged_for_its_two_contradictory_growth_figures(seed_report):
    findings = report_quality_findings(report=seed_report)
    errors = [f for f in findings if f.is_error]
    assert [f.code for f in errors] == ["growth-rate-conflict"]
    assert "6–8%" in errors[0].message and "13.7%" in errors[0].message
    assert "“opportunities” text" in errors[0].message


def test_seed_countries_need_no_correction_after_loading(seed_report):
    assert not [f for f in report_quality_findings(report=seed_report) if "country" in f.code]


def test_seed_missing_market_size_is_a_note_not_an_error(seed_report):
    assert ("info", "base-year-size-missing") in codes(seed_report)


# --- Growth figures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("One estimate puts market growth at a CAGR of 6–8% over five years.", ["6–8%"]),
        ("grow at a compound annual growth rate of 13.7% over 2025–2032", ["13.7%"]),
        ("we forecast growth at a compound annual rate of 13.7%, and", ["13.7%"]),
        ("a 13.7% CAGR, segmentation by phase", ["13.7%"]),
        ("an annual growth rate of 9 per cent", ["9 per cent"]),
        ("a CAGR of 5 to 7 %", ["5 to 7 %"]),
        ("Annual growth of more than 20%, as reported.", []),  # a company, not the market
        ("North America holds about 40% of revenue.", []),
    ],
)
def test_growth_statements_are_found_in_the_usual_phrasings(text, figures):
    assert [s.text for s in growth_statements(text, where="x")] == figures


def test_a_figure_that_agrees_with_the_cagr_is_not_flagged():
    report = clean_report(
        cagr_percent=Decimal("13.7"),
        summary="Growth at a CAGR of 13.7%.",
        analysis="A CAGR of about 14% over the period.",  # the same figure, rounded
        opportunities="A CAGR of 12–15% in the best case.",  # a range around it
    )
    assert codes(report) == []


def test_a_second_growth_rate_anywhere_in_the_texts_is_an_error():
    report = clean_report(cagr_percent=Decimal("10.0"))
    report.dynamics.create(kind="trend", title="Uptake", description="Demand grows at a 4% CAGR.")
    report.faqs.create(question="How fast?", answer="At a CAGR of 10%.")
    findings = report_quality_findings(report=report)
    assert [f.code for f in findings] == ["growth-rate-conflict"]
    assert findings[0].message.startswith("The trend “Uptake” states a growth rate of 4%")


# --- Regions and countries ----------------------------------------------------------------


def test_regional_shares_over_100_percent_are_an_error():
    report = clean_report()
    RegionFactory(report=report, name="North America", share_percent=Decimal("60"))
    RegionFactory(report=report, name="Europe", share_percent=Decimal("45.5"))
    findings = report_quality_findings(report=report)
    assert [f.code for f in findings] == ["region-shares-over-100"]
    assert "105.5%" in findings[0].message


def test_shares_adding_up_to_exactly_100_percent_pass():
    report = clean_report()
    RegionFactory(report=report, name="North America", share_percent=Decimal("60"))
    RegionFactory(report=report, name="Europe", share_percent=Decimal("40"))
    assert codes(report) == []


def test_a_country_under_the_wrong_region_is_an_error(seed_report):
    mea = Region.objects.get(report=seed_report, name="Middle East & Africa")
    RegionCountry.objects.create(region=mea, country="KR", position=9)
    messages = [f.message for f in report_quality_findings(report=seed_report) if f.is_error]
    assert (
        "South Korea is listed under Middle East & Africa, but it is not in "
        "Middle East & Africa." in messages
    )


def test_countries_of_a_region_the_check_does_not_know_are_noted_not_failed():
    report = clean_report()
    RegionCountryFactory(region=RegionFactory(report=report, name="Nordics"), country="SE")
    assert codes(report) == [("info", "region-unknown")]


# --- Prices -------------------------------------------------------------------------------


def test_published_report_without_active_licences_is_an_error(seed_report):
    Licence.objects.filter(report=seed_report).update(is_active=False)
    assert ("error", "published-without-prices") in codes(seed_report)


def test_upcoming_report_without_licences_is_fine():
    report = ReportFactory(status=Report.Status.UPCOMING, base_year_market_size=1)
    assert codes(report) == []


# --- manage.py check_report ---------------------------------------------------------------


def test_check_report_prints_each_finding_and_fails_on_errors(seed_report):
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("check_report", "1780960", stdout=out)
    assert failure.value.returncode == 1
    printed = out.getvalue()
    assert "Report 1780960 (Published)" in printed
    assert "ERROR [growth-rate-conflict]" in printed and "6–8%" in printed
    assert "info [base-year-size-missing]" in printed


def test_check_report_succeeds_when_there_are_only_notes():
    report = clean_report(base_year_market_size=None)
    out = StringIO()
    call_command("check_report", str(report.number), stdout=out)
    assert "info [base-year-size-missing]" in out.getvalue()


def test_check_report_without_numbers_checks_every_report(seed_report):
    clean = clean_report()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_report", stdout=out)
    assert f"Report {clean.number} " in out.getvalue() and "no findings" in out.getvalue()
    assert "Report 1780960 " in out.getvalue()


def test_check_report_refuses_unknown_numbers(seed_report):
    with pytest.raises(CommandError, match="No report numbered 42"):
        call_command("check_report", "1780960", "42", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_check_report_exits_non_zero_from_the_shell(seed_report):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "smosite.settings.test",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SMOSITE_VAR_DIR": str(settings.VAR_DIR),
    }
    run = subprocess.run(
        [sys.executable, "manage.py", "check_report", "1780960"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    assert "growth-rate-conflict" in run.stdout
    assert "1 error(s) found." in run.stderr

"""`manage.py make_demo_catalogue`: varied, realistic reports, marked as demo data, written
through the importer (so the quality gate applies), the same for the same seed."""

from io import StringIO

import pytest
from django.core.management import call_command

from reports.models import Category, Licence, Report
from reports.services.demo import DEMO_FIRST_NUMBER, demo_line

pytestmark = pytest.mark.django_db


def test_the_demo_catalogue_is_varied_and_marked_as_demo(client):
    out = StringIO()
    call_command("make_demo_catalogue", "--count", "60", stdout=out)
    reports = Report.objects.filter(is_demo=True)
    assert reports.count() == 60 and "60 created" in out.getvalue()
    assert Category.objects.count() >= 8
    assert len(set(reports.values_list("market_name", flat=True))) >= 50
    assert set(reports.values_list("status", flat=True)) >= {"published", "upcoming"}
    assert len(set(reports.values_list("cagr_percent", flat=True))) >= 30
    assert len(set(Licence.objects.values_list("price", flat=True))) >= 10
    report = reports.filter(status="published").first()
    assert (
        report.key_players.count() >= 4 and report.regions.exists() and report.toc_entries.exists()
    )
    assert report.number >= DEMO_FIRST_NUMBER
    page = client.get(report.get_absolute_url()).content.decode()
    assert "Demo data" in page and "generated demo data" in page
    assert "Demo data" in client.get("/", {"q": report.market_name}).content.decode()


def test_the_same_seed_gives_the_same_reports_and_a_rerun_updates_nothing():
    assert demo_line(7, seed=3) == demo_line(7, seed=3)
    assert demo_line(7, seed=3) != demo_line(7, seed=4)
    call_command("make_demo_catalogue", "--count", "5", stdout=StringIO())
    out = StringIO()
    call_command("make_demo_catalogue", "--count", "5", stdout=out)
    assert "0 created, 0 updated, 5 unchanged" in out.getvalue()


def test_demo_reports_can_be_removed_and_real_ones_stay():
    call_command("make_demo_catalogue", "--count", "4", stdout=StringIO())
    call_command("load_seed_report", stdout=StringIO())
    out = StringIO()
    call_command("make_demo_catalogue", "--delete", stdout=out)
    assert "Deleted 4 demo reports" in out.getvalue()
    assert list(Report.objects.values_list("number", flat=True)) == [1780960]


def test_the_generator_writes_an_import_file(tmp_path):
    path = tmp_path / "demo.jsonl"
    call_command("make_demo_catalogue", "--count", "3", "--output", str(path), stdout=StringIO())
    out = StringIO()
    call_command("import_reports", str(path), stdout=out)
    assert "3 created" in out.getvalue() and Report.objects.filter(is_demo=True).count() == 3

"""Bulk import (`manage.py import_reports`, reports/services/imports/): JSON Lines and CSV in
one schema (the seed file's), per-line errors by line number and field, idempotent
re-imports that keep staff edits, dry runs, and the publishing gate on every line."""

import copy
import csv
import json
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from reports.models import (
    Category,
    KeyPlayer,
    Licence,
    MarketDynamic,
    QualityAcknowledgement,
    Region,
    RegionCountry,
    Report,
    SearchTerm,
    Segment,
    TocEntry,
)
from reports.services.imports import Record, reports_import
from reports.services.imports.readers import CSV_COLUMNS
from reports.services.seed import DEFAULT_SEED
from tests.factories import UserFactory
from tests.support.worker import database_url

pytestmark = pytest.mark.django_db

SEED = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))


def line(number: int, **report_fields) -> dict:
    """The seed report as another report: its own number, title and fields; its growth texts
    made consistent, so it passes the quality check."""
    data = copy.deepcopy(SEED)
    del data["source"]
    data["report"]["number"] = number
    data["report"]["title"] = f"Widget Market {number}, 2025–2032"
    data["report"]["opportunities"] = "Opportunities come from trials growing more complex."
    data["report"].update(report_fields)
    return data


def write_jsonl(tmp_path: Path, lines: list, name="reports.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in lines),
        encoding="utf-8",
    )
    return path


def write_csv(tmp_path: Path, lines: list[dict], name="reports.csv") -> Path:
    """The CSV the documentation describes: report fields by name, category name and slug,
    parts as JSON cells."""
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for data in lines:
            row = {k: ("" if v is None else v) for k, v in data["report"].items()}
            row["category"], row["category_slug"] = (
                data["category"]["name"],
                data["category"]["slug"],
            )
            for section in ("dynamics", "key_players", "segments", "regions", "toc", "faqs"):
                row[section] = json.dumps(data[section], ensure_ascii=False)
            row["licences"] = json.dumps(data["licences"])
            writer.writerow(row)
    return path


def run(path: Path, *args) -> tuple[str, str, int]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_reports", str(path), *args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        err.write(str(exc))
        code = exc.returncode
    return out.getvalue(), err.getvalue(), code


def report_snapshot(number: int) -> dict:
    """What a visitor would see of a report, to compare two imports."""
    report = Report.objects.get(number=number)
    return {
        "fields": {
            f.name: getattr(report, f.name)
            for f in Report._meta.concrete_fields
            if f.name
            not in ("id", "created_at", "updated_at", "published_at", "import_baseline", "category")
        },
        "category": report.category.slug,
        "dynamics": list(report.dynamics.values_list("kind", "title", "description", "position")),
        "players": list(
            report.key_players.values_list("name", "profile", "revenue_musd", "growth_percent")
        ),
        "segments": list(report.segments.values_list("dimension", "name", "position")),
        "regions": [
            (r.name, r.share_percent, [c.country.code for c in r.countries.all()])
            for r in report.regions.all()
        ],
        "toc": list(report.toc_entries.values_list("level", "title")),
        "faqs": list(report.faqs.values_list("question", "answer")),
        "licences": list(report.licences.values_list("kind", "price", "max_users", "is_active")),
    }


# --- The seed file is an import line ----------------------------------------------------------


def test_the_seed_file_on_one_line_is_a_valid_import_line_with_or_without_its_source(tmp_path):
    without_source = {k: v for k, v in SEED.items() if k != "source"}
    without_source["report"] = {**SEED["report"], "number": 1780961}
    out, err, code = run(write_jsonl(tmp_path, [SEED, without_source]))
    assert code == 0, err
    assert Report.objects.filter(number__in=[1780960, 1780961]).count() == 2
    assert report_snapshot(1780960)["players"] == report_snapshot(1780961)["players"]
    assert "Imported: 2 lines — 2 created" in out


# --- Good and bad lines -----------------------------------------------------------------------


def test_bad_lines_are_reported_by_line_and_field_and_good_lines_still_imported(tmp_path):
    bad_cagr = line(2000002, cagr_percent="fast")
    bad_player = line(2000003)
    bad_player["key_players"][1]["name"] = ""
    unknown_field = line(2000004)
    unknown_field["report"]["colour"] = "blue"
    path = write_jsonl(
        tmp_path,
        [line(2000001), bad_cagr, "{not json", bad_player, unknown_field, line(2000005)],
    )

    out, err, code = run(path)

    assert code == 1
    assert "line 2 (report 2000002): report.cagr_percent: “fast” value must be a decimal" in err
    assert "line 3: line: not valid JSON" in err
    assert "line 4 (report 2000003): key_players[1].name: This field cannot be blank." in err
    assert "line 5 (report 2000004): report.colour: unknown field" in err
    assert "4 line(s) failed" in err
    assert set(Report.objects.values_list("number", flat=True)) == {2000001, 2000005}
    assert "2 created, 0 updated, 0 unchanged, 4 failed" in out


def test_missing_required_fields_and_repeated_numbers_are_line_errors(tmp_path):
    missing = line(2000011)
    del missing["report"]["title"]
    del missing["category"]
    path = write_jsonl(tmp_path, [line(2000010), missing, line(2000010)])
    _out, err, code = run(path)
    assert code == 1
    assert "line 2 (report 2000011): report.title: This field is required." in err
    assert "line 2 (report 2000011): category: This field is required." in err
    assert "line 3 (report 2000010): report.number: report 2000010 is also on line 1" in err
    assert Report.objects.count() == 1


def test_import_creates_every_part_and_corrects_countries_as_the_seed_loader_does(tmp_path):
    out, _err, code = run(write_jsonl(tmp_path, [line(2000020)]))
    assert code == 0
    report = Report.objects.get(number=2000020)
    assert report.category.slug == "healthcare-services"
    assert report.cagr_percent == Decimal("13.70")
    assert report.key_player_names == "Clinedge\nWCG\nClinChoice\nAccess Clinical Research"
    assert report.segments.count() == 12 and report.regions.count() == 5
    assert report.toc_entries.count() == 17 and report.licences.count() == 3
    latin = Region.objects.get(report=report, name="Latin America")
    assert [c.country.code for c in latin.countries.all()] == ["MX", "BR", "AR", "CO"]
    assert 'corrected: Middle East & Africa: joined "Saudi" and "Arabia" into Saudi Arabia.' in out
    assert SearchTerm.objects.filter(term__in=["clinedge", "widget", "organizations"]).count() == 3


# --- Re-import --------------------------------------------------------------------------------


def test_reimporting_updates_in_place_and_never_duplicates(tmp_path):
    run(write_jsonl(tmp_path, [line(2000030), line(2000031)]))
    first_ids = dict(Report.objects.values_list("number", "pk"))
    changed = line(2000030, summary="A rewritten summary.", cagr_percent="9.5")
    changed["faqs"] = [{"question": "How fast?", "answer": "A CAGR of 9.5% over 2025–2032."}]
    changed["key_players"] = changed["key_players"][:2]

    out, err, code = run(write_jsonl(tmp_path, [changed, line(2000031)], "again.jsonl"))

    assert code == 0, err
    assert "1 created" not in out and "1 updated, 1 unchanged" in out
    assert dict(Report.objects.values_list("number", "pk")) == first_ids
    report = Report.objects.get(number=2000030)
    assert (report.summary, report.cagr_percent) == ("A rewritten summary.", Decimal("9.50"))
    assert list(report.key_players.values_list("name", flat=True)) == ["Clinedge", "WCG"]
    assert report.faqs.count() == 1
    assert KeyPlayer.objects.filter(report=report).count() == 2
    assert (
        Region.objects.count() == 10
        and RegionCountry.objects.filter(region__report=report).count()
        == RegionCountry.objects.filter(region__report__number=2000031).count()
    )


def test_reimport_keeps_what_staff_edited_and_takes_the_rest_from_the_file(tmp_path):
    run(write_jsonl(tmp_path, [line(2000040)]))
    report = Report.objects.get(number=2000040)
    Report.objects.filter(pk=report.pk).update(title="Title by staff")
    MarketDynamic.objects.filter(report=report).first().delete()  # staff removed a dynamic
    newer = line(2000040, summary="Next edition's summary.")
    newer["report"]["title"] = "Widget Market, next edition"
    newer["dynamics"] = newer["dynamics"][:2]

    out, _err, code = run(write_jsonl(tmp_path, [newer], "next.jsonl"))

    assert code == 0
    assert "kept staff edits in: report.title, dynamics" in out
    report.refresh_from_db()
    assert report.title == "Title by staff"  # kept
    assert report.summary == "Next edition's summary."  # not edited by staff: updated
    assert report.dynamics.count() == 8  # staff's version of the dynamics, not the file's 2
    # Asked again, the same file changes nothing and still keeps staff's title.
    out, _err, _code = run(write_jsonl(tmp_path, [newer], "next.jsonl"))
    assert "0 updated, 1 unchanged" in out
    assert Report.objects.get(pk=report.pk).title == "Title by staff"


def test_overwrite_rewrites_staff_edits_from_the_file(tmp_path):
    run(write_jsonl(tmp_path, [line(2000050)]))
    Report.objects.filter(number=2000050).update(title="Title by staff")
    out, _err, code = run(write_jsonl(tmp_path, [line(2000050)]), "--overwrite")
    assert code == 0 and "1 updated" in out
    assert Report.objects.get(number=2000050).title == "Widget Market 2000050, 2025–2032"


def test_sections_a_line_leaves_out_are_left_as_they_are(tmp_path):
    run(write_jsonl(tmp_path, [line(2000060)]))
    slim = line(2000060, summary="Only the summary changes.")
    for section in ("dynamics", "key_players", "segments", "regions", "toc", "faqs", "licences"):
        del slim[section]
    _out, err, code = run(write_jsonl(tmp_path, [slim], "slim.jsonl"))
    assert code == 0, err
    report = Report.objects.get(number=2000060)
    assert report.summary == "Only the summary changes."
    assert (report.licences.count(), report.regions.count(), report.faqs.count()) == (3, 5, 5)


# --- Dry run ----------------------------------------------------------------------------------


def test_dry_run_checks_every_line_and_changes_nothing(tmp_path):
    run(write_jsonl(tmp_path, [line(2000070)]))
    before = report_snapshot(2000070)
    counts = {m: m.objects.count() for m in (Report, Category, KeyPlayer, Region, SearchTerm)}
    new_category = line(2000071)
    new_category["category"] = {"name": "Brand New Category", "slug": "brand-new-category"}
    path = write_jsonl(
        tmp_path,
        [line(2000070, summary="Changed."), new_category, line(2000072, cagr_percent="x")],
        "dry.jsonl",
    )

    out, err, code = run(path, "--dry-run")

    assert code == 1 and "line 3 (report 2000072): report.cagr_percent" in err
    assert "Checked (dry run, nothing written): 3 lines — 1 created, 1 updated" in out
    assert report_snapshot(2000070) == before
    assert {m: m.objects.count() for m in counts} == counts


# --- CSV --------------------------------------------------------------------------------------


def test_csv_and_json_lines_give_the_same_reports(tmp_path):
    lines = [line(2000080), line(2000081, status="upcoming", base_year_market_size="1250.5")]
    run(write_jsonl(tmp_path, lines))
    from_jsonl = [report_snapshot(n) for n in (2000080, 2000081)]
    Report.objects.all().delete()

    csv_lines = copy.deepcopy(lines)
    for data in csv_lines:
        data["report"]["number"] += 100
    out, err, code = run(write_csv(tmp_path, csv_lines))

    assert code == 0, err
    from_csv = [report_snapshot(n) for n in (2000180, 2000181)]
    for snapshot in from_csv:
        snapshot["fields"]["number"] -= 100
    assert from_csv == from_jsonl
    assert "2 created" in out


def test_csv_errors_name_the_record_s_first_line_and_the_column(tmp_path):
    first = line(2000090)
    first["report"]["analysis"] = "Two paragraphs.\n\nOver three lines."
    path = write_csv(tmp_path, [first, line(2000091), line(2000092)])
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["is_demo"] = "maybe"
    rows[2]["key_players"] = "[not json"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    _out, err, code = run(path)

    # The header is line 1; each record spans three lines (its analysis has two breaks).
    assert code == 1
    assert "line 5: report.is_demo: expected true or false" in err
    assert "line 8: key_players: not valid JSON" in err
    assert list(Report.objects.values_list("number", flat=True)) == [2000090]
    assert Report.objects.get().analysis == "Two paragraphs.\n\nOver three lines."


def test_unknown_csv_columns_stop_the_import_before_anything_is_written(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("number,title,colour\n1,A,blue\n", encoding="utf-8")
    _out, err, code = run(path)
    assert code == 1 and "Unknown CSV column(s): colour" in err
    assert not Report.objects.exists()


# --- The publishing gate on import --------------------------------------------------------------


def test_a_line_whose_report_fails_the_quality_check_lands_as_a_draft_and_says_so(tmp_path):
    conflicting = line(2000100)
    conflicting["report"]["opportunities"] = "One estimate puts growth at a CAGR of 6–8%."
    unpriced = line(2000101)
    unpriced["licences"] = []
    out, _err, code = run(write_jsonl(tmp_path, [conflicting, unpriced, line(2000102)]))
    assert code == 0
    assert (
        "line 1 (report 2000100): held as a draft: 1 quality error not acknowledged: "
        "[growth-rate-conflict]"
    ) in out
    assert "line 2 (report 2000101): held as a draft" in out and "published-without-prices" in out
    statuses = dict(Report.objects.values_list("number", "status"))
    assert statuses == {2000100: "draft", 2000101: "draft", 2000102: "published"}
    held = Report.objects.get(number=2000100)
    assert held.quality_open_errors == 1 and held.published_at is None
    assert "2 held as drafts" in out


def test_an_acknowledged_error_lets_the_next_import_publish(tmp_path):
    from reports.services.publishing import report_blockers, report_quality_acknowledge

    conflicting = line(2000110)
    conflicting["report"]["opportunities"] = "One estimate puts growth at a CAGR of 6–8%."
    run(write_jsonl(tmp_path, [conflicting]))
    report = Report.objects.get(number=2000110)
    (error,) = report_blockers(report=report)
    report_quality_acknowledge(
        report=report, finding=error, note="Both figures are sourced.", user=UserFactory()
    )

    out, _err, _code = run(write_jsonl(tmp_path, [conflicting]))

    report.refresh_from_db()
    assert report.status == "published" and report.published_at is not None
    assert "held as a draft:" not in out and QualityAcknowledgement.objects.count() == 1


def test_importing_renders_no_pdf(tmp_path):
    from reports.models import ReportDocument

    run(write_jsonl(tmp_path, [line(2000120), line(2000121)]))
    assert Report.objects.filter(status="published").count() == 2
    assert not ReportDocument.objects.exists()


# --- Streaming and batches ------------------------------------------------------------------


def test_small_batches_give_the_same_result_and_a_failing_line_spoils_no_other(tmp_path):
    lines = [line(2000130 + n) for n in range(7)]
    lines[3]["report"]["cagr_percent"] = "bad"
    results = []
    summary = reports_import(
        records=[Record(line=i + 1, data=data) for i, data in enumerate(lines)],
        batch_size=2,
        on_result=results.append,
    )
    assert (summary.created, summary.failed) == (6, 1)
    assert [r.line for r in results] == list(range(1, 8))
    assert Report.objects.count() == 6 and TocEntry.objects.count() == 6 * 17
    assert Segment.objects.count() == 6 * 12 and Licence.objects.count() == 6 * 3


def test_the_progress_bar_draws_on_request_and_ends_at_one_hundred_percent(tmp_path):
    path = write_jsonl(tmp_path, [line(2000140 + n) for n in range(3)])
    out, err = StringIO(), StringIO()
    call_command(
        "import_reports", str(path), "--progress", "always", "--batch-size", "1", stdout=out,
        stderr=err,
    )  # fmt: skip
    assert "100%" in err.getvalue() and "3 lines" in err.getvalue()
    assert "\r[" in err.getvalue()


@pytest.mark.django_db(transaction=True)  # the child process commits; flushed afterwards
def test_the_command_exits_non_zero_from_the_shell_when_a_line_fails(tmp_path):
    path = write_jsonl(tmp_path, [line(2000150), line(2000151, cagr_percent="x")])
    env = {
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "smosite.settings.test",
        "PATH": "/usr/bin:/bin",
        "SMOSITE_VAR_DIR": str(settings.VAR_DIR),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "import_reports", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "line 2 (report 2000151): report.cagr_percent" in done.stderr

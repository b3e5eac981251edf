"""`make bench` cannot rot: its quick mode (a few requests of each benchmark, every service
started for real on loopback) runs here and its table must hold every row."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import runner, stack

ROOT = Path(__file__).resolve().parent.parent.parent
# The quick run starts every benchmark's services: minutes, not the suite's usual limit.
pytestmark = pytest.mark.timeout(1800)

EXPECTED = {
    "Pages": [
        "Bare Django view",
        "The product's empty view",
        "Catalogue /",
        "Search /?q=clinical",
        "Report page",
        "Report page, client without gzip",
        "Load average",
    ],
    "Lighthouse": [
        f"{page}: {measure}"
        for page in ("Catalogue /", "Report page")
        for measure in (
            "performance score",
            "accessibility score",
            "best practices score",
            "SEO score",
            "largest contentful paint",
            "bytes transferred",
            "CSS before compression",
        )
    ],
    "Samples": [
        "POST → email with PDF",
        "Burst of 20 from 20 addresses: drained",
        "Burst: duplicates, lost",
        "Burst: pages carrying the recipient's own name",
    ],
    "Purchases": ["Webhook accepted (200)", "Webhook → download-link email"],
    "PDFs": [
        "Render full report",
        "Render sample",
        "Stamp full report",
        "Stamp sample",
        "Render ÷ stamp, full and sample",
        "Worker peak memory",
    ],
    "Downloads": ["2.0 MB stamped PDF, 16 connections", "Report page meanwhile"],
    "Dashboard": ["Sales dashboard, 2,000 contacts and 200 orders", "Admin index (baseline)"],
}


def table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| Section")
    ]


@pytest.fixture(scope="module")
def quick_run():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return (stack.VAR / "benchmarks.md").read_text(), done.stdout


def test_the_quick_run_has_every_row_of_every_section(quick_run):
    text, _ = quick_run
    rows = table_rows(text)
    for section, measures in EXPECTED.items():
        found = [measure for sec, measure, *_ in rows if sec == section]
        for expected in measures:
            assert any(m.startswith(expected) for m in found), (section, expected, found)


def test_no_row_reports_errors_and_the_burst_lost_nothing(quick_run):
    text, _ = quick_run
    rows = table_rows(text)
    assert all(value and "errors" not in value for _, _, value, _ in rows), rows
    burst = {measure: value for _, measure, value, _ in rows}
    assert burst["Burst: duplicates, lost"] == "0 duplicates, 0 lost"
    pages = burst["Burst: pages carrying the recipient's own name"]
    checked, total = re.fullmatch(r"([\d,]+) of ([\d,]+)", pages).groups()
    assert checked == total != "0"


def test_the_catalogue_module_is_included_or_its_absence_noted(quick_run):
    text, _ = quick_run
    if runner.module_present("catalogue"):
        assert any(row[0] == "Catalogue" for row in table_rows(text))
    else:
        assert "bench/catalogue.py is not there yet: skipped" in text


def test_the_quick_run_leaves_the_documented_figures_alone(quick_run):
    text, _ = quick_run
    assert "python -m bench --quick" in text
    assert "python -m bench --quick" not in (ROOT / "docs" / "benchmarks.md").read_text()
    assert "Machine" in text and "load average" in text

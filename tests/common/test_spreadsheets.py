import datetime

import pytest

from common.spreadsheets import csv_safe


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_safe_defuses_cells_that_would_run_as_formulas(text):
    assert csv_safe(text) == "'" + text


def test_csv_safe_leaves_plain_text_numbers_dates_and_none_alone():
    day = datetime.date(2026, 1, 2)
    assert [csv_safe(v) for v in ("Acme", 1.5, day, None)] == ["Acme", 1.5, day, None]

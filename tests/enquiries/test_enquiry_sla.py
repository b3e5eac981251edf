"""Business-hours arithmetic behind the response-time promise (Mon–Fri, 9:00–17:00 here)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from enquiries import sla

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def office_hours(settings):
    settings.ENQUIRY_BUSINESS_TIME_ZONE = "Europe/Berlin"
    settings.ENQUIRY_BUSINESS_DAY_START_HOUR = 9
    settings.ENQUIRY_BUSINESS_DAY_END_HOUR = 17
    settings.ENQUIRY_SLA_BUSINESS_HOURS = 8


def at(day, hour, minute=0):
    """A moment in November 2026 in Berlin: the 23rd is a Monday, the 27th a Friday."""
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def test_hours_inside_one_working_day():
    assert sla.business_hours_between(at(23, 10), at(23, 13, 30)) == 3.5


def test_evenings_and_weekends_do_not_count():
    assert sla.business_hours_between(at(27, 16), at(30, 10)) == 2  # Fri 16:00 → Mon 10:00
    assert sla.business_hours_between(at(28, 12), at(29, 18)) == 0  # Saturday → Sunday


def test_a_long_gap_counts_five_days_a_week():
    assert sla.business_hours_between(at(2, 9), at(30, 9)) == 4 * 5 * 8


def test_deadline_of_a_friday_afternoon_question_is_monday_afternoon():
    assert sla.sla_deadline(at(27, 15)) == at(30, 15)


def test_deadline_of_a_weekend_question_is_the_end_of_monday():
    assert sla.sla_deadline(at(28, 11)) == at(30, 17)


def test_past_sla_only_once_more_than_a_business_day_has_elapsed():
    received = at(23, 10)
    assert not sla.is_past_sla(received, answered_at=at(24, 10))
    assert sla.is_past_sla(received, answered_at=at(24, 10, 1))


def test_overdue_cutoff_agrees_with_elapsed_business_hours():
    now = at(30, 10)  # Monday 10:00: eight business hours back is Friday 10:00
    cutoff = sla.sla_overdue_cutoff(now)
    assert cutoff == at(27, 10)
    assert sla.is_past_sla(at(27, 9, 59), answered_at=now)
    assert not sla.is_past_sla(at(27, 10), answered_at=now)


def test_overdue_cutoff_on_a_day_boundary_is_the_earliest_moment():
    # Monday 17:00: anything after Friday 17:00 has had at most 8 business hours.
    assert sla.sla_overdue_cutoff(at(30, 17)) == at(27, 17)


def test_promise_in_words(settings):
    assert sla.sla_promise_text() == "one business day"
    settings.ENQUIRY_SLA_BUSINESS_HOURS = 4
    assert sla.sla_promise_text() == "4 business hours"
    settings.ENQUIRY_SLA_BUSINESS_HOURS = 16
    assert sla.sla_promise_text() == "2 business days"


def test_compact_durations():
    assert sla.duration_text(0.5) == "30m"
    assert sla.duration_text(3 + 1 / 3) == "3h 20m"
    assert sla.duration_text(8) == "1d"
    assert sla.duration_text(19) == "2d 3h"


def test_working_day_must_start_before_it_ends(settings):
    settings.ENQUIRY_BUSINESS_DAY_START_HOUR = 18
    with pytest.raises(ValueError):
        sla.business_hours_between(at(23, 10), at(23, 11))

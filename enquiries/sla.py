"""Business-hours arithmetic for the response-time promise (SLA).

Time is counted only inside the sales team's working day (ENQUIRY_BUSINESS_DAY_START_HOUR to
..._END_HOUR, Monday to Friday, wall-clock time in ENQUIRY_BUSINESS_TIME_ZONE). Everything
goes through one monotonic clock, `_business_seconds(t)`: business seconds since a fixed
Monday. Differences of that clock are elapsed business time; its inverse gives deadlines and
the cut-off the "past SLA" filter needs in SQL. Public holidays are not modelled.

The clock starts when an enquiry arrives (`created_at`, until the first answer) and again
each time the customer replies by email (`customer_replied_at`, while the enquiry is
"customer replied": enquiries/services/inbound.py); the inbox's filters and response column
count from whichever applies (enquiries/admin/filters.py).
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_EPOCH_MONDAY = date(2000, 1, 3)
_WEEKDAYS = 5


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.ENQUIRY_BUSINESS_TIME_ZONE)


def _day_bounds() -> tuple[int, int]:
    """Start and end of the working day in seconds after local midnight."""
    start = settings.ENQUIRY_BUSINESS_DAY_START_HOUR * 3600
    end = settings.ENQUIRY_BUSINESS_DAY_END_HOUR * 3600
    if not 0 <= start < end <= 86400:
        raise ValueError("ENQUIRY_BUSINESS_DAY_START_HOUR must be before ..._END_HOUR (0–24)")
    return start, end


def _business_seconds(moment: datetime) -> int:
    """Business seconds from the epoch Monday's midnight to `moment`."""
    start, end = _day_bounds()
    day_length = end - start
    local = moment.astimezone(_zone())
    weeks, weekday = divmod((local.date() - _EPOCH_MONDAY).days, 7)
    total = weeks * _WEEKDAYS * day_length + min(weekday, _WEEKDAYS) * day_length
    if weekday < _WEEKDAYS:
        since_midnight = local.hour * 3600 + local.minute * 60 + local.second
        total += min(max(since_midnight - start, 0), day_length)
    return total


def _moment_at(business_seconds: int) -> datetime:
    """The earliest moment at which the business clock reads `business_seconds`."""
    start, end = _day_bounds()
    day_length = end - start
    days, within = divmod(business_seconds, day_length)
    if within == 0:  # a day boundary: the earliest such moment is the previous day's close
        days, within = days - 1, day_length
    weeks, weekday = divmod(days, _WEEKDAYS)
    day = _EPOCH_MONDAY + timedelta(days=weeks * 7 + weekday)
    seconds = start + within
    return datetime.combine(day, time(0), _zone()) + timedelta(seconds=seconds)


def business_hours_between(start: datetime, end: datetime) -> float:
    """Business hours elapsed from `start` to `end` (0 if end is not after start)."""
    return max(_business_seconds(end) - _business_seconds(start), 0) / 3600


def sla_deadline(received_at: datetime) -> datetime:
    """When the first answer to something received at `received_at` is due."""
    hours = settings.ENQUIRY_SLA_BUSINESS_HOURS
    return _moment_at(_business_seconds(received_at) + hours * 3600)


def sla_overdue_cutoff(now: datetime | None = None) -> datetime:
    """Anything received before this moment and still unanswered is past the SLA now
    (more than ENQUIRY_SLA_BUSINESS_HOURS business hours have elapsed)."""
    now = now or timezone.now()
    return _moment_at(_business_seconds(now) - settings.ENQUIRY_SLA_BUSINESS_HOURS * 3600)


def is_past_sla(received_at: datetime, answered_at: datetime | None = None) -> bool:
    """True when the first answer came (or, unanswered, is now) later than the promise."""
    until = answered_at or timezone.now()
    return business_hours_between(received_at, until) > settings.ENQUIRY_SLA_BUSINESS_HOURS


def sla_promise_text() -> str:
    """The promise in words, for pages and emails: "one business day", "4 business hours"."""
    hours = settings.ENQUIRY_SLA_BUSINESS_HOURS
    start, end = _day_bounds()
    day_hours = (end - start) // 3600
    if hours % day_hours == 0:
        days = hours // day_hours
        return "one business day" if days == 1 else f"{days} business days"
    return f"{hours} business hour{'s' if hours != 1 else ''}"


def duration_text(hours: float) -> str:
    """A compact duration for the inbox: "45m", "3h 20m", "2d 1h" (business days)."""
    start, end = _day_bounds()
    day_minutes = (end - start) // 60
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < day_minutes:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    days, rest = divmod(minutes, day_minutes)
    return f"{days}d {rest // 60}h" if rest >= 60 else f"{days}d"

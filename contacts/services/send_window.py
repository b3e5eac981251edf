"""When a person is at work: marketing email goes out in their working hours, judged by the
country on their contact (its main time zone), so a follow-up lands at the top of the inbox
on a weekday morning rather than at 3 a.m.

Deliberately simple: one time zone per country (the capital's, or the most populous zone of
a country that spans several); a contact without a country, or with one not listed, gets
MARKETING_DEFAULT_TIME_ZONE. The window is MARKETING_SEND_HOUR_START to
MARKETING_SEND_HOUR_END local time on MARKETING_SEND_WEEKDAYS."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

COUNTRY_TIME_ZONES = {
    "AE": "Asia/Dubai",
    "AR": "America/Argentina/Buenos_Aires",
    "AT": "Europe/Vienna",
    "AU": "Australia/Sydney",
    "BE": "Europe/Brussels",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CH": "Europe/Zurich",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "CO": "America/Bogota",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EG": "Africa/Cairo",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "ID": "Asia/Jakarta",
    "IE": "Europe/Dublin",
    "IL": "Asia/Jerusalem",
    "IN": "Asia/Kolkata",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",
    "NG": "Africa/Lagos",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "NZ": "Pacific/Auckland",
    "PH": "Asia/Manila",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "SA": "Asia/Riyadh",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "TH": "Asia/Bangkok",
    "TR": "Europe/Istanbul",
    "TW": "Asia/Taipei",
    "US": "America/New_York",
    "VN": "Asia/Ho_Chi_Minh",
    "ZA": "Africa/Johannesburg",
}


def country_time_zone(country: str) -> ZoneInfo:
    return ZoneInfo(
        COUNTRY_TIME_ZONES.get(str(country or "").upper(), settings.MARKETING_DEFAULT_TIME_ZONE)
    )


def send_window_next(*, at: datetime, country: str) -> datetime:
    """`at` itself if it falls in the person's working hours, otherwise the start of their
    next working window (an aware datetime)."""
    zone = country_time_zone(country)
    local = at.astimezone(zone)
    start, end = time(settings.MARKETING_SEND_HOUR_START), time(settings.MARKETING_SEND_HOUR_END)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if day.isoweekday() not in settings.MARKETING_SEND_WEEKDAYS:
            continue
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = datetime.combine(day, end, tzinfo=zone)
        if local < closes:
            return max(local, opens)
    return at  # no weekday configured at all: send when due


def send_window_open(*, at: datetime, country: str) -> bool:
    return send_window_next(at=at, country=country) == at

"""/sitemap.xml: the catalogue and every published or upcoming report, with absolute URLs
built from SITE_URL (not from the Host header of whoever asked).

Up to SITEMAP_MAX_URLS URLs it is one sitemap. Past that (the protocol allows 50,000 per
file) it is a sitemap index: one file for the catalogue page, then the reports in number
order, SITEMAP_MAX_URLS per file, each file's lastmod the newest change among its reports
(https://www.sitemaps.org/protocol.html#index). The XML is written directly from one query
per file: Django's sitemap framework reverses a URL and renders a template per entry, which
at 50,000 entries takes seconds."""

from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from .models import Report
from .selectors import PUBLIC_STATUSES

XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class SitemapFile:
    location: str
    lastmod: datetime | None


def _public():
    return Report.objects.filter(status__in=PUBLIC_STATUSES)


def sitemap_is_index() -> bool:
    """One URL for the catalogue page plus one per public report."""
    return _public().count() + 1 > settings.SITEMAP_MAX_URLS


def sitemap_report_files() -> list[SitemapFile]:
    """The reports' files with their lastmod, from one pass over the public reports."""
    statuses = ", ".join(["%s"] * len(PUBLIC_STATUSES))
    sql = (
        "SELECT part, max(updated_at) FROM ("  # noqa: S608 - table and placeholders only
        f"  SELECT updated_at, (row_number() OVER (ORDER BY number) - 1) / %s AS part"
        f"  FROM {Report._meta.db_table} WHERE status IN ({statuses})"
        ") numbered GROUP BY part ORDER BY part"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [settings.SITEMAP_MAX_URLS, *PUBLIC_STATUSES])
        rows = cursor.fetchall()
    files = []
    for part, newest in rows:
        location = reverse("sitemap-reports", args=[part + 1])
        files.append(SitemapFile(settings.SITE_URL + location, _as_datetime(newest)))
    return files


def _as_datetime(value) -> datetime | None:
    """Raw SQL skips Django's converters: SQLite returns the timestamp as text (in UTC)."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def sitemap_pages_file() -> SitemapFile:
    newest = _public().aggregate(newest=Max("updated_at"))["newest"]
    return SitemapFile(settings.SITE_URL + reverse("sitemap-pages"), newest)


def sitemap_index_xml() -> str:
    files = [sitemap_pages_file(), *sitemap_report_files()]
    entries = "".join(
        f"<sitemap><loc>{escape(f.location)}</loc>"
        + (f"<lastmod>{f.lastmod.isoformat(timespec='seconds')}</lastmod>" if f.lastmod else "")
        + "</sitemap>\n"
        for f in files
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{XMLNS}">\n{entries}</sitemapindex>\n'


def _urlset(entries: list[str]) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{XMLNS}">\n{"".join(entries)}</urlset>\n'


def _catalogue_entry() -> str:
    url = escape(settings.SITE_URL + reverse("reports:catalogue"))
    return f"<url><loc>{url}</loc><changefreq>daily</changefreq><priority>0.8</priority></url>\n"


def _report_entries(rows) -> list[str]:
    # The report URL pattern once, filled in per row (a reverse() per row is the cost).
    pattern = reverse("reports:detail", kwargs={"slug": "slug", "number": 1})
    prefix, _, suffix = pattern.rpartition("slug-r1")
    base = escape(settings.SITE_URL + prefix)
    return [
        f"<url><loc>{base}{escape(slug)}-r{number}{suffix}</loc>"
        f"<lastmod>{updated_at.date().isoformat()}</lastmod>"
        "<changefreq>weekly</changefreq><priority>1.0</priority></url>\n"
        for number, slug, updated_at in rows
    ]


def _report_rows(*, offset: int = 0, limit: int | None = None):
    rows = _public().order_by("number").values_list("number", "slug", "updated_at")
    return rows[offset : offset + limit] if limit else rows


def sitemap_single_xml() -> str:
    """Everything in one file (the catalogue fits)."""
    return _urlset([_catalogue_entry(), *_report_entries(_report_rows().iterator(2000))])


def sitemap_pages_xml() -> str:
    return _urlset([_catalogue_entry()])


def sitemap_reports_xml(*, part: int) -> str | None:
    """File `part` (from 1) of the index; None past the last one. The URL takes any number:
    an offset past what the database's OFFSET takes (a bigint) is past the last file too."""
    limit = settings.SITEMAP_MAX_URLS
    offset = (part - 1) * limit
    if part < 1 or offset > BIGINT_MAX:
        return None
    rows = list(_report_rows(offset=offset, limit=limit))
    return _urlset(_report_entries(rows)) if rows else None

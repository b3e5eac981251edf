"""What a PDF shows, as plain data. The templates render exactly this snapshot and the
content hash is computed from it (plus the template sources), so a render can never show
content other than the version it is filed under."""

import hashlib
import json
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.conf import settings

from ..models import Report

# Bump when the rendering code changes in a way the template sources don't show.
RENDERER_VERSION = "2"  # 2: tagged PDF/UA-1 with alternative text on every chart
TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "reports" / "pdf"
STATIC_PDF_DIR = Path(settings.BASE_DIR) / "static" / "pdf"


def _text(value) -> str:
    return str(value) if value is not None else ""


def _num(value) -> str | None:
    return None if value is None else str(value)


def report_content(*, report: Report) -> dict:
    """The report's printable content. Decimals are strings so the snapshot is JSON."""
    fields = (
        *("number", "title", "market_name", "status"),
        *Report.LONG_TEXT_FIELDS,
        *("forecast_start_year", "forecast_end_year", "market_size_currency", "slug"),
    )
    content = {name: getattr(report, name) for name in fields}
    content.update(
        category=report.category.name,
        cagr_percent=_num(report.cagr_percent),
        base_year_market_size=_num(report.base_year_market_size),
        edition_date=report.edition_date.isoformat(),
        dynamics=[
            {"kind": d.kind, "title": d.title, "description": d.description}
            for d in report.dynamics.order_by("position", "pk")
        ],
        key_players=[
            {
                "name": p.name,
                "profile": p.profile,
                "revenue_note": p.revenue_note,
                "revenue_musd": _num(p.revenue_musd),
                "growth_percent": _num(p.growth_percent),
            }
            for p in report.key_players.order_by("position", "pk")
        ],
        segments=[
            {
                "dimension": s.dimension,
                "name": s.name,
                "description": s.description,
                "share_percent": _num(s.share_percent),
            }
            for s in report.segments.order_by("dimension", "position", "pk")
        ],
        regions=[
            {
                "name": r.name,
                "share_percent": _num(r.share_percent),
                "commentary": r.commentary,
                "countries": [
                    _text(c.country.name) for c in r.countries.order_by("position", "pk")
                ],
            }
            for r in report.regions.order_by("position", "pk")
        ],
        toc=[
            {"level": t.level, "title": t.title}
            for t in report.toc_entries.order_by("position", "pk")
        ],
        licences=[
            {
                "kind": lic.kind,
                "label": lic.get_kind_display(),
                "description": lic.description,
                "max_users": lic.max_users,
                "prices": [
                    {"currency": currency, "price": _num(lic.price_in(currency))}
                    for currency in settings.CURRENCIES
                ],
            }
            for lic in report.licences.filter(is_active=True).order_by("position", "pk")
        ],
        site_url=settings.SITE_URL,
        publisher=settings.PUBLISHER_NAME,
    )
    return content


def sources_digest() -> str:
    """The PDF templates and stylesheets are part of a version: editing them re-renders.
    Every copy asks, so the files are read again only when one of them was added, removed or
    written since (their names, sizes and modification times)."""
    listing = tuple(
        (folder, name, stat.st_size, stat.st_mtime_ns)
        for folder in (TEMPLATE_DIR, STATIC_PDF_DIR)
        for name, stat in _files(folder)
    )
    if _digest_cache.get("listing") != listing:
        digest = hashlib.sha256(RENDERER_VERSION.encode())
        for folder, name, _, _ in listing:
            digest.update(name.encode())
            digest.update((folder / name).read_bytes())
        _digest_cache.update(listing=listing, digest=digest.hexdigest())
    return _digest_cache["digest"]


_digest_cache: dict = {}


def _files(folder: Path) -> list[tuple[str, os.stat_result]]:
    """(path relative to `folder`, stat) of every file below it, sorted by path."""
    found = []
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            found.append((os.path.relpath(path, folder), os.stat(path)))
    return sorted(found)


def content_hash(content: dict) -> str:
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{sources_digest()}\n{payload}".encode()).hexdigest()


def forecast_rows(*, start_year: int, end_year: int, cagr_percent, base_size) -> list[dict]:
    """Year-by-year values compounding at the CAGR from the base-year size, or from an index
    of 100 in the first year when no base size has been entered."""
    rate = Decimal(str(cagr_percent)) / 100
    base = Decimal(str(base_size)) if base_size is not None else Decimal(100)
    rows, previous = [], None
    for offset in range(end_year - start_year + 1):
        value = base * (1 + rate) ** offset
        rows.append(
            {
                "year": start_year + offset,
                "value": value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
                "growth": None if previous is None else (value / previous - 1) * 100,
                "raw": value,
            }
        )
        previous = value
    return rows

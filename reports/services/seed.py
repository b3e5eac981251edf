"""Loads a report transcribed from a publisher landing page (reports/seed/*.json) into the
catalogue. Idempotent: a report that exists is left as staff have edited it, unless
`update=True`, which rewrites it from the file."""

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ..models import (
    Category,
    FrequentQuestion,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RegionCountry,
    Report,
    Segment,
    TocEntry,
)
from ..regions import countries_resolve
from .documents import report_documents_refresh

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"
DEFAULT_SEED = SEED_DIR / "report_1780960.json"


@dataclass
class SeedResult:
    report: Report
    created: bool
    updated: bool
    corrections: list[str] = field(default_factory=list)


def _decimal(value):
    return None if value in (None, "") else Decimal(str(value))


@transaction.atomic
def report_load_seed(*, path: Path = DEFAULT_SEED, update: bool = False) -> SeedResult:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    fields = dict(data["report"])
    number = fields.pop("number")
    existing = Report.objects.filter(number=number).first()
    if existing and not update:
        report_documents_refresh(report=existing)  # e.g. the PDF templates changed
        return SeedResult(report=existing, created=False, updated=False)

    category, _ = Category.objects.get_or_create(
        slug=data["category"]["slug"], defaults={"name": data["category"]["name"]}
    )
    fields["cagr_percent"] = _decimal(fields["cagr_percent"])
    fields["base_year_market_size"] = _decimal(fields.get("base_year_market_size"))
    fields["edition_date"] = date.fromisoformat(fields["edition_date"])
    report = existing or Report(number=number)
    for name, value in fields.items():
        setattr(report, name, value)
    report.category = category
    if report.status == Report.Status.PUBLISHED and not report.published_at:
        report.published_at = timezone.now()
    report.full_clean()
    report.save()
    corrections = _replace_parts(report, data)
    report_documents_refresh(report=report)  # renders after commit, if the content is new
    return SeedResult(
        report=report,
        created=existing is None,
        updated=existing is not None,
        corrections=corrections,
    )


def _replace_parts(report: Report, data: dict) -> list[str]:
    for related in (
        report.dynamics,
        report.key_players,
        report.segments,
        report.regions,
        report.toc_entries,
        report.faqs,
        report.licences,
    ):
        related.all().delete()
    MarketDynamic.objects.bulk_create(
        MarketDynamic(report=report, position=i, **row) for i, row in enumerate(data["dynamics"])
    )
    KeyPlayer.objects.bulk_create(
        KeyPlayer(
            report=report,
            position=i,
            name=row["name"],
            profile=row["profile"],
            revenue_note=row["revenue_note"],
            revenue_musd=_decimal(row["revenue_musd"]),
            growth_percent=_decimal(row["growth_percent"]),
        )
        for i, row in enumerate(data["key_players"])
    )
    Segment.objects.bulk_create(
        Segment(report=report, dimension=dimension, position=i, **row)
        for dimension, rows in data["segments"].items()
        for i, row in enumerate(rows)
    )
    TocEntry.objects.bulk_create(
        TocEntry(report=report, position=i, level=level, title=title)
        for i, (level, title) in enumerate(data["toc"])
    )
    FrequentQuestion.objects.bulk_create(
        FrequentQuestion(report=report, position=i, **row) for i, row in enumerate(data["faqs"])
    )
    Licence.objects.bulk_create(
        Licence(
            report=report,
            position=i,
            kind=row["kind"],
            description=row["description"],
            max_users=row["max_users"],
            price=Decimal(row["price"]),
            currency=row["currency"],
        )
        for i, row in enumerate(data["licences"])
    )
    return _load_regions(report, data["regions"])


def _load_regions(report: Report, regions: list[dict]) -> list[str]:
    corrections = []
    for i, row in enumerate(regions):
        region = Region.objects.create(
            report=report,
            position=i,
            name=row["name"],
            share_percent=_decimal(row["share_percent"]),
            commentary=row["commentary"],
        )
        codes, notes = countries_resolve(row["name"], row["countries"])
        corrections.extend(notes)
        RegionCountry.objects.bulk_create(
            RegionCountry(region=region, country=code, position=j) for j, code in enumerate(codes)
        )
    return corrections

"""A demo catalogue: realistic, varied reports to try the site at a publisher's scale
(`manage.py make_demo_catalogue --count 100000`). Every demo report is marked `is_demo`
(pages show a "Demo data" badge) and numbered from DEMO_FIRST_NUMBER, and they are written
by the same importer as real feeds, so they pass the same checks: about one in a hundred
states a second growth rate and lands as a draft, as a careless feed's would.

Report i is drawn from its own seeded random generator: the same `--seed` gives the same
catalogue whatever `--count`, and running again updates in place."""

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify
from django_countries import countries

from ..demo import vocabulary as words
from ..models import Report
from ..regions import REGION_MEMBERS
from .imports import ImportSummary, LineResult, Record, ReportImporter

DEMO_FIRST_NUMBER = 8_000_000
REGIONS = list(REGION_MEMBERS)
COMPANIES = [
    f"{root} {suffix}" for root in words.COMPANY_ROOTS for suffix in words.COMPANY_SUFFIXES
]
CONFLICT_RATE = 0.01


def demo_line(index: int, *, seed: int = 0, first_number: int = DEMO_FIRST_NUMBER) -> dict:
    """Report `index` of the demo catalogue, as an import line (docs/import-format.md)."""
    rng = random.Random(seed * 1_000_003 + index)
    category = rng.choice(list(words.CATEGORIES))
    kinds = words.CATEGORIES[category]
    qualifier = rng.choice(words.QUALIFIERS)
    market = " ".join(part for part in (qualifier, rng.choice(kinds["markets"])) if part)
    scope = rng.choice(words.SCOPES)
    start = rng.choice([2024, 2025, 2025, 2026, 2026])
    end = start + rng.choice([5, 6, 7, 8])
    cagr = Decimal(rng.randint(15, 199)) / 10
    status = rng.choices(["published", "upcoming", "draft"], weights=[85, 10, 5])[0]
    edition = date(start - 1, 1, 1) + timedelta(days=rng.randint(0, 700))
    types = rng.sample(kinds["types"], k=min(len(kinds["types"]), rng.randint(3, 5)))
    applications = rng.sample(kinds["applications"], k=min(len(kinds["applications"]), 4))
    players = rng.sample(COMPANIES, k=rng.randint(4, 7))
    regions = _regions(rng, scope)
    context = {
        "market": market.lower(),
        "application": applications[0].lower(),
        "region": regions[0]["name"],
        "segment": types[0].lower(),
    }
    title_scope = "" if scope == "Global" else f" in {scope}"
    return {
        "category": {"name": category, "slug": slugify(category)},
        "report": {
            "number": first_number + index,
            "slug": slugify(f"{scope} {market} market"),
            "title": rng.choice(
                [
                    f"{market} Market{title_scope}, {start}–{end}",
                    f"{market} Market Size, Share and Trends{title_scope}, {start}–{end}",
                    f"{market} Market Outlook{title_scope}, {start}–{end}",
                ]
            ),
            "market_name": market if scope == "Global" else f"{market} ({scope})",
            "status": status,
            "is_demo": True,
            "edition_date": edition.isoformat(),
            "cagr_percent": str(cagr),
            "forecast_start_year": start,
            "forecast_end_year": end,
            "base_year_market_size": (
                str(Decimal(rng.randint(500, 250_000)) / 10) if rng.random() < 0.6 else None
            ),
            "market_size_currency": "USD",
            "page_count": rng.randint(90, 320),
            "summary": (
                f"The {market.lower()} market{title_scope.lower()} serves "
                f"{', '.join(a.lower() for a in applications[:3])}. This report sizes it by "
                f"{types[0].lower()} and other types, by application and by region for "
                f"{start}–{end}, a period over which we forecast growth at a compound annual "
                f"rate of {cagr}%, and profiles {', '.join(players[:3])} and others."
            ),
            "analysis": (
                f"Demand for {market.lower()} is shaped by {context['application']} and by "
                f"regulation in {context['region']}. Suppliers compete on performance, price "
                f"and service.\n\nWe forecast a compound annual growth rate of {cagr}% over "
                f"{start}–{end}, led by {types[0].lower()} products."
            ),
            "opportunities": _opportunities(rng, cagr, context),
            "competitive_landscape": (
                f"The market is {rng.choice(['fragmented', 'concentrated', 'consolidating'])}; "
                f"{players[0]} and {players[1]} hold leading positions."
            ),
            "seo_description": f"{market} market report {start}–{end}: {cagr}% CAGR, "
            "segments, regions and company profiles.",
        },
        "dynamics": _dynamics(rng, context),
        "key_players": [_player(rng, name, context) for name in players],
        "segments": {
            "type": [{"name": t, "description": f"{t} {market.lower()}."} for t in types],
            "application": [
                {"name": a, "description": f"{market} used in {a.lower()}."} for a in applications
            ],
        },
        "regions": regions,
        "toc": [[level, title] for level, title in words.TOC],
        "faqs": [
            {
                "question": f"How fast is the {market.lower()} market growing?",
                "answer": f"We forecast a CAGR of {cagr}% over {start}–{end}.",
            },
            {
                "question": "Which region leads the market?",
                "answer": f"{regions[0]['name']} holds the largest share.",
            },
        ],
        "licences": _licences(rng),
    }


def _opportunities(rng: random.Random, cagr: Decimal, context: dict) -> str:
    text = f"{context['application'].capitalize()} and {context['region']} offer most room to grow."
    if rng.random() < CONFLICT_RATE:
        low = int(cagr) + 3
        text += f" One estimate puts market growth at a CAGR of {low}–{low + 2}% instead."
    return text


def _regions(rng: random.Random, scope: str) -> list[dict]:
    names = REGIONS if scope == "Global" else [scope]
    shares = sorted((rng.randint(5, 40) for _ in names), reverse=True)
    total = sum(shares)
    regions = []
    for name, share in zip(names, shares, strict=True):
        members = sorted(code for code in REGION_MEMBERS[name] if code in countries)
        regions.append(
            {
                "name": name,
                "share_percent": str(round(Decimal(share * 95) / total))
                if scope == "Global"
                else None,
                "commentary": f"{name} is a {rng.choice(['mature', 'growing', 'emerging'])} market.",
                "countries": rng.sample(members, k=min(len(members), rng.randint(2, 6))),
            }
        )
    return regions


def _dynamics(rng: random.Random, context: dict) -> list[dict]:
    picked = [
        ("driver", *rng.choice(words.DRIVERS)),
        ("trend", *rng.choice(words.TRENDS)),
        ("opportunity", *rng.choice(words.OPPORTUNITIES)),
        ("challenge", *rng.choice(words.CHALLENGES)),
    ]
    return [
        {"kind": kind, "title": title, "description": text.format(**context)}
        for kind, title, text in picked
    ]


def _player(rng: random.Random, name: str, context: dict) -> dict:
    profile = rng.choice(words.PROFILES).format(
        name=name, size=rng.choice(words.SIZES), countries=rng.randint(10, 120), **context
    )
    revenue = Decimal(rng.randint(50, 90_000)) / 10 if rng.random() < 0.5 else None
    return {
        "name": name,
        "profile": profile,
        "revenue_note": "",
        "revenue_musd": str(revenue) if revenue is not None else None,
        "growth_percent": None,
    }


def _licences(rng: random.Random) -> list[dict]:
    single = rng.randrange(2900, 5000, 100)
    return [
        {"kind": "single", "description": "One named user.", "max_users": 1,
         **_prices(single)},
        {"kind": "multi", "description": "Up to five users at one site.", "max_users": 5,
         **_prices(single + 2000)},
        {"kind": "enterprise", "description": "Unlimited users in your organisation.",
         "max_users": None, **_prices(single + 4000)},
    ]  # fmt: skip


def _prices(usd: int) -> dict:
    """A price per currency, as a publisher sets them: round hundreds near the dollar price
    (fixed ratios, so a demo catalogue is the same on every machine)."""
    return {
        "price": f"{usd}.00",
        "price_eur": f"{round(usd * 0.92, -2):.0f}.00",
        "price_gbp": f"{round(usd * 0.79, -2):.0f}.00",
    }


def demo_lines(
    *, count: int, seed: int = 0, first_number: int = DEMO_FIRST_NUMBER
) -> Iterator[dict]:
    for index in range(count):
        yield demo_line(index, seed=seed, first_number=first_number)


def demo_catalogue_make(
    *,
    count: int,
    seed: int = 0,
    first_number: int = DEMO_FIRST_NUMBER,
    batch_size: int = 500,
    on_result: Callable[[LineResult], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Write `count` demo reports through the importer (bulk inserts, batch by batch)."""
    importer = ReportImporter(batch_size=batch_size, on_result=on_result)
    for index, line in enumerate(demo_lines(count=count, seed=seed, first_number=first_number)):
        importer.feed(Record(line=index + 1, data=line))
        if on_progress and index % batch_size == 0:
            on_progress(index)
    return importer.finish()


@transaction.atomic
def demo_catalogue_delete() -> int:
    """Remove every demo report and its parts. Demo reports someone bought, asked about or
    requested a sample of are kept: those records protect their report."""
    demo = Report.objects.filter(is_demo=True)
    kept = demo.filter(
        Q(orders__isnull=False) | Q(enquiries__isnull=False) | Q(sample_requests__isnull=False)
    )
    _deleted, per_model = demo.exclude(pk__in=kept.values("pk")).delete()
    return per_model.get(Report._meta.label, 0)

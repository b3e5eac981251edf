"""Renders a content snapshot (reports/pdf/content.py) into the full report or the sample
with WeasyPrint. The structure (chapters, numbered sections, figures) is built here once, so
the table of contents, the bookmarks and the body can't disagree."""

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.template.loader import render_to_string
from django.urls import reverse
from weasyprint import HTML

from . import charts
from .content import forecast_rows
from .fetcher import StaticOnlyURLFetcher, static_base_url

FULL, SAMPLE = "full", "sample"
# The sample: cover, contents, executive summary, one chapter, methodology, how to buy.
SAMPLE_CHAPTERS = {"summary", "overview", "methodology"}


@dataclass
class Rendered:
    pdf: bytes
    page_count: int
    seconds: float
    fetcher: StaticOnlyURLFetcher


def document_render(*, content: dict, kind: str) -> Rendered:
    started = time.perf_counter()
    html = document_html(content=content, kind=kind)
    fetcher = StaticOnlyURLFetcher()
    document = HTML(string=html, base_url=static_base_url(), url_fetcher=fetcher).render()
    # PDF/UA-1: a tagged PDF (structure tree, /Lang from <html lang>, the title shown instead
    # of the file name, alternative text from each chart's SVG <title>), as screen readers and
    # procurement's accessibility checks need. https://doc.courtbouillon.org/weasyprint/stable/
    pdf = document.write_pdf(pdf_variant="pdf/ua-1")
    return Rendered(
        pdf=pdf,
        page_count=len(document.pages),
        seconds=time.perf_counter() - started,
        fetcher=fetcher,
    )


def document_html(*, content: dict, kind: str) -> str:
    return render_to_string("reports/pdf/document.html", document_context(content, kind))


def document_context(content: dict, kind: str) -> dict:
    forecast = _forecast(content)
    chapters = _chapters(content, forecast)
    for number, chapter in enumerate(chapters, start=1):
        chapter["number"] = number
        chapter["included"] = kind == FULL or chapter["key"] in SAMPLE_CHAPTERS
        for index, section in enumerate(chapter["sections"], start=1):
            section["number"] = f"{number}.{index}"
            section["id"] = f"{chapter['key']}-{index}"
    return {
        "r": content,
        "kind": kind,
        "is_sample": kind == SAMPLE,
        "is_outline": content["status"] == "upcoming",
        "edition_date": date.fromisoformat(content["edition_date"]),
        # A word joiner keeps "2025–2032" on one line on the cover.
        "cover_title": content["title"].replace("–", "\u2060–\u2060"),
        "chapters": chapters,
        "figures": _figures(chapters),
        "forecast": forecast,
        "metrics": _metrics(content, forecast),
        "urls": _urls(content),
    }


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _plain(value: Decimal) -> str:
    """13.70 -> "13.7", 20 -> "20": as a person would write a rate."""
    return f"{value.normalize():f}"


def _forecast(content: dict) -> dict:
    base = _decimal(content["base_year_market_size"])
    rows = forecast_rows(
        start_year=content["forecast_start_year"],
        end_year=content["forecast_end_year"],
        cagr_percent=content["cagr_percent"],
        base_size=base,
    )
    currency = content["market_size_currency"]
    is_index = base is None
    label = (
        f"Index, {content['forecast_start_year']} = 100"
        if is_index
        else f"Market size, {currency} million"
    )
    for previous, row in zip(rows, rows[1:], strict=False):
        row["increase"] = row["value"] - previous["value"]
    for row in rows:
        row["cumulative"] = (row["raw"] / rows[0]["raw"] - 1) * 100
    return {
        "rows": rows,
        "is_index": is_index,
        "increase_label": "index points" if is_index else f"{currency} million",
        "label": label,
        "currency": currency,
        "multiple": rows[-1]["raw"] / rows[0]["raw"],
        "chart": charts.forecast_chart(
            years=[row["year"] for row in rows],
            values=[row["value"] for row in rows],
            label=label,
            title=f"Market forecast {content['forecast_start_year']}–{content['forecast_end_year']}",
        ),
    }


def _region_shares(content: dict) -> list[tuple[str, Decimal]]:
    """Regions with a share, plus the unallocated rest named after the regions without one,
    so the ring always adds up to 100% without inventing a split."""
    shares = [
        (r["name"], Decimal(r["share_percent"])) for r in content["regions"] if r["share_percent"]
    ]
    rest = Decimal(100) - sum((value for _, value in shares), Decimal(0))
    if shares and rest > 0:
        unsized = [r["name"] for r in content["regions"] if not r["share_percent"]]
        shares.append((" & ".join(unsized) if unsized else "Other", rest))
    return shares


def _segment_shares(content: dict, dimension: str) -> list[tuple[str, Decimal]]:
    rows = [s for s in content["segments"] if s["dimension"] == dimension]
    return [(s["name"], Decimal(s["share_percent"])) for s in rows if s["share_percent"]]


def _dynamics(content: dict, kind: str) -> list[dict]:
    return [d for d in content["dynamics"] if d["kind"] == kind]


def _section(title: str, template: str, **data) -> dict:
    return {"title": title, "template": f"reports/pdf/sections/{template}.html", **data}


def _chapters(content: dict, forecast: dict) -> list[dict]:
    return [
        _summary_chapter(content, forecast),
        _overview_chapter(content),
        _segment_chapter(content, "type", "Segmentation by Type"),
        _segment_chapter(content, "application", "Segmentation by Application"),
        _regions_chapter(content),
        {
            "key": "forecast",
            "title": f"Market Forecast {content['forecast_start_year']}–{content['forecast_end_year']}",
            "sections": [
                _section(
                    "Forecast by year",
                    "forecast_table",
                    chart=charts.column_chart(
                        labels=[str(row["year"]) for row in forecast["rows"][1:]],
                        values=[row["increase"] for row in forecast["rows"][1:]],
                        label=forecast["increase_label"],
                        title="Annual increase of the market",
                    ),
                    caption=f"Annual increase, {forecast['increase_label'][0].lower()}"
                    f"{forecast['increase_label'][1:]}",
                ),
                _section("Basis of the forecast", "forecast_basis"),
            ],
        },
        _competition_chapter(content),
        {
            "key": "methodology",
            "title": "Methodology and Assumptions",
            "sections": [
                _section("Research approach", "method_approach"),
                _section("Market sizing and forecasting", "method_sizing"),
                _section("Assumptions and limitations", "method_assumptions"),
            ],
        },
        {
            "key": "licence",
            "title": "Licence Terms and Disclaimer",
            "sections": [
                _section("Licence terms", "licence_terms"),
                _section("Disclaimer", "licence_disclaimer"),
            ],
        },
    ]


def _summary_chapter(content: dict, forecast: dict) -> dict:
    return {
        "key": "summary",
        "title": "Executive Summary",
        "sections": [
            _section(
                "Key market metrics",
                "summary_metrics",
                chart=forecast["chart"],
                caption=f"Market forecast {content['forecast_start_year']}–"
                f"{content['forecast_end_year']} ({forecast['label'][0].lower()}{forecast['label'][1:]})",
            ),
            _section("Key findings", "summary_findings"),
        ],
    }


def _overview_chapter(content: dict) -> dict:
    # A published report leaves out what it has no content for; an upcoming report's outline
    # shows every planned section, marked as in preparation.
    outline = content["status"] == "upcoming"
    sections = [_section("The market", "text", text=content["analysis"])]
    for kind, title in (
        ("driver", "Growth drivers"),
        ("trend", "Trends"),
        ("opportunity", "Opportunities"),
        ("challenge", "Challenges"),
    ):
        items = _dynamics(content, kind)
        if items:
            sections.append(_section(title, "dynamics", items=items))
        elif outline:
            sections.append(_section(title, "text", text=""))
    for field, title in (("latest_trends", "Latest developments"), ("opportunities", "Outlook")):
        if content[field] or outline:
            sections.append(_section(title, "text", text=content[field]))
    return {"key": "overview", "title": "Market Overview and Dynamics", "sections": sections}


def _segment_chapter(content: dict, dimension: str, title: str) -> dict:
    """One section per segment; a share table and chart first when research has sized them."""
    segments = [s for s in content["segments"] if s["dimension"] == dimension]
    shares = _segment_shares(content, dimension)
    sections = []
    if len(shares) >= 2:
        caption = f"{title}: share of the market by segment, {content['forecast_start_year']}"
        sections.append(
            _section(
                "Segment shares",
                "segment_shares",
                segments=segments,
                chart=charts.bar_chart(bars=shares, title=caption),
                caption=caption,
            )
        )
    sections += [_section(s["name"], "segment", segment=s) for s in segments]
    return {
        "key": f"segments-{dimension}",
        "title": title,
        "intro": content[f"segmentation_by_{dimension}_intro"],
        "segments": segments,
        "sections": sections,
    }


REGIONS_CAPTION = "Share of the market by region"


def _regions_chapter(content: dict) -> dict:
    shares = _region_shares(content)
    sections = [
        _section(
            "Regional shares",
            "regions_overview",
            text=content["regional_analysis"],
            chart=charts.share_chart(shares=shares, title=REGIONS_CAPTION) if shares else None,
            caption=REGIONS_CAPTION,
        )
    ]
    sections += [_section(r["name"], "region", region=r) for r in content["regions"]]
    return {"key": "regions", "title": "Regional Analysis", "sections": sections}


def _competition_chapter(content: dict) -> dict:
    sections = [
        _section(
            "Competitive overview", "competition_overview", text=content["competitive_landscape"]
        )
    ]
    sections += [
        _section(f"Profile: {p['name']}", "player", player=p) for p in content["key_players"]
    ]
    return {"key": "competition", "title": "Competitive Landscape", "sections": sections}


def _figures(chapters: list[dict]) -> list[dict]:
    """Numbers the charts of the included chapters, in order, for the list of figures."""
    found = []
    for chapter in chapters:
        for section in chapter["sections"]:
            if chapter["included"] and section.get("chart"):
                section["figure_id"] = f"fig-{section['id']}"
                section["figure_number"] = len(found) + 1
                found.append(section)
    return found


def _metrics(content: dict, forecast: dict) -> dict:
    regions = [r for r in content["regions"] if r["share_percent"]]
    largest = max(regions, key=lambda r: Decimal(r["share_percent"]), default=None)
    return {
        "cagr": _plain(Decimal(content["cagr_percent"])),
        "start_value": forecast["rows"][0]["value"],
        "end_value": forecast["rows"][-1]["value"],
        "largest_region": largest,
        "type_count": sum(1 for s in content["segments"] if s["dimension"] == "type"),
        "application_count": sum(1 for s in content["segments"] if s["dimension"] == "application"),
        "region_count": len(content["regions"]),
        "country_count": sum(len(r["countries"]) for r in content["regions"]),
        "player_count": len(content["key_players"]),
        "drivers": _dynamics(content, "driver"),
    }


def _urls(content: dict) -> dict:
    site = content["site_url"]
    number = content["number"]
    detail = reverse("reports:detail", kwargs={"slug": content["slug"], "number": number})
    return {
        "purchase": site + reverse("orders:purchase", kwargs={"number": number}),
        "enquiry": site + reverse("enquiries:pre-order-enquiry", kwargs={"number": number}),
        "report": site + detail,
        "site": site + "/",
    }

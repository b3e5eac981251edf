"""The checks a careful publisher runs before a report goes out: contradictory growth
figures, regional shares over 100 %, countries filed under the wrong region, a published
report nobody can buy. Read by `manage.py check_report` and the report's admin page.

The check reports; it never edits. Which of two growth figures is right is a research
decision for staff. It reads a report through `ReportParts`, so that an import can check a
report before anything is written (reports/services/imports/)."""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from django_countries import countries

from ..models import FrequentQuestion, Licence, MarketDynamic, Region, Report
from ..regions import region_contains

Severity = Literal["error", "warning", "info"]

# "CAGR of 6–8%", "compound annual growth rate of 13.7%", "grow at a compound annual rate of
# 13.7%", "annual growth rate of 9 %": a growth-rate phrase followed within a few words by a
# figure or a range...
_FIGURE = (
    r"(?P<figure>(?P<low>\d+(?:\.\d+)?)"
    r"(?:\s*(?:–|—|-|to)\s*(?P<high>\d+(?:\.\d+)?))?\s*(?:%|per\s?cent))"
)
_RATE_PHRASE = r"(?:CAGR|compound\s+annual(?:\s+growth)?\s+rate|annual\s+growth\s+rate)"
RATE_AFTER_PHRASE = re.compile(_RATE_PHRASE + r"[^.%\d]{0,40}?" + _FIGURE, re.IGNORECASE)
# ...or a figure right before one: "13.7% CAGR".
RATE_BEFORE_PHRASE = re.compile(_FIGURE + r"\s*(?:a\s+)?" + _RATE_PHRASE, re.IGNORECASE)

REPORT_TEXT_FIELDS = (*Report.LONG_TEXT_FIELDS, "seo_description")


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass(frozen=True)
class GrowthStatement:
    where: str
    text: str
    low: Decimal
    high: Decimal

    def agrees_with(self, rate: Decimal) -> bool:
        # A figure rounded to a whole number ("about 14%") still agrees with 13.7.
        tolerance = Decimal("0.05") if "." in self.text else Decimal("0.5")
        return self.low - tolerance <= rate <= self.high + tolerance


def growth_statements(text: str, *, where: str) -> list[GrowthStatement]:
    """Every growth rate a text states, with the words that state it."""
    found = {}
    for pattern in (RATE_AFTER_PHRASE, RATE_BEFORE_PHRASE):
        for match in pattern.finditer(text):
            low = Decimal(match["low"])
            high = Decimal(match["high"]) if match["high"] else low
            statement = GrowthStatement(where, match["figure"], low, high)
            found.setdefault(match.start("figure"), statement)
    return [found[key] for key in sorted(found)]


@dataclass
class ReportParts:
    """What the check reads: the report and the parts it checks, saved or not. Each region
    comes with its countries' ISO codes."""

    report: Report
    dynamics: list[MarketDynamic] = field(default_factory=list)
    faqs: list[FrequentQuestion] = field(default_factory=list)
    regions: list[tuple[Region, list[str]]] = field(default_factory=list)
    licences: list[Licence] = field(default_factory=list)

    @classmethod
    def of(cls, report: Report) -> "ReportParts":
        """A saved report's parts through its related managers (prefetched ones cost no
        query)."""
        return cls(
            report=report,
            dynamics=list(report.dynamics.all()),
            faqs=list(report.faqs.all()),
            regions=[
                (region, [row.country.code for row in region.countries.all()])
                for region in report.regions.all()
            ],
            licences=list(report.licences.all()),
        )


def _texts(parts: ReportParts):
    """(where, text) for every text a reader sees, `where` phrased to start a sentence."""
    for name in REPORT_TEXT_FIELDS:
        yield (
            f"The “{Report._meta.get_field(name).verbose_name}” text",
            getattr(parts.report, name),
        )
    for dynamic in parts.dynamics:
        kind = MarketDynamic.Kind(dynamic.kind).label.lower()
        yield f"The {kind} “{dynamic.title}”", dynamic.description
    for faq in parts.faqs:
        yield f"The answer to “{faq.question}”", faq.answer
    for region, _codes in parts.regions:
        yield f"The {region.name} commentary", region.commentary


def _growth_findings(parts: ReportParts) -> list[Finding]:
    statements = [s for where, text in _texts(parts) for s in growth_statements(text, where=where)]
    rate = parts.report.cagr_percent
    return [
        Finding(
            "error",
            "growth-rate-conflict",
            f"{s.where} states a growth rate of {s.text}, but the report's CAGR is "
            f"{rate.normalize():f}%. Decide which figure is right and correct the other.",
        )
        for s in statements
        if not s.agrees_with(rate)
    ]


def _share_findings(parts: ReportParts) -> list[Finding]:
    total = sum((r.share_percent for r, _ in parts.regions if r.share_percent), Decimal(0))
    if total <= 100:
        return []
    return [
        Finding(
            "error",
            "region-shares-over-100",
            f"Regional market shares add up to {total.normalize():f}%, more than 100%.",
        )
    ]


def _country_findings(parts: ReportParts) -> list[Finding]:
    findings = []
    for region, codes in parts.regions:
        if codes and region_contains(region.name, "") is None:
            findings.append(
                Finding(
                    "info",
                    "region-unknown",
                    f"“{region.name}” is not a region the check knows; its countries were "
                    "not checked.",
                )
            )
            continue
        findings += [
            Finding(
                "error",
                "country-outside-region",
                f"{countries.name(code)} is listed under {region.name}, but it is not in "
                f"{region.name}.",
            )
            for code in codes
            if region_contains(region.name, code) is False
        ]
    return findings


def _licence_findings(parts: ReportParts) -> list[Finding]:
    active = [licence for licence in parts.licences if licence.is_active]
    if parts.report.status == Report.Status.PUBLISHED and not active:
        return [
            Finding(
                "error",
                "published-without-prices",
                "The report is published but has no active licence with a price: "
                "visitors cannot buy it.",
            )
        ]
    return []


def _size_findings(parts: ReportParts) -> list[Finding]:
    report = parts.report
    if report.base_year_market_size is not None:
        return []
    return [
        Finding(
            "info",
            "base-year-size-missing",
            f"No market size for {report.forecast_start_year}: the page and PDFs show growth "
            "rates and shares only until research confirms a figure.",
        )
    ]


def _period_findings(parts: ReportParts) -> list[Finding]:
    report = parts.report
    if report.forecast_end_year > report.forecast_start_year:
        return []
    return [
        Finding(
            "error",
            "forecast-period-invalid",
            f"The forecast period {report.forecast_period} ends before it starts.",
        )
    ]


CHECKS = (
    _growth_findings,
    _share_findings,
    _country_findings,
    _licence_findings,
    _period_findings,
    _size_findings,
)
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def report_quality_findings(*, report: Report) -> list[Finding]:
    """Every problem found in the report, errors first. Reads the report's parts through
    their related managers, so a report from `report_get_public` costs no further query."""
    return quality_findings(parts=ReportParts.of(report))


def quality_findings(*, parts: ReportParts) -> list[Finding]:
    """The same check on parts given directly (an import checks before it writes)."""
    findings = [finding for check in CHECKS for finding in check(parts)]
    return sorted(findings, key=lambda finding: SEVERITY_ORDER[finding.severity])

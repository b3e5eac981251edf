"""The report page's content, arranged from one prefetched report (see
`selectors.report_get_public`): grouping and picking happen in Python over the prefetched
rows, so the page's query count does not depend on the report's size."""

from dataclasses import dataclass, field

from .models import (
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RelatedReports,
    Report,
    Segment,
    TocEntry,
)
from .seo import absolute_url, report_description, report_structured_data

DYNAMIC_HEADINGS = {
    MarketDynamic.Kind.DRIVER: "Drivers",
    MarketDynamic.Kind.TREND: "Trends",
    MarketDynamic.Kind.OPPORTUNITY: "Opportunities",
    MarketDynamic.Kind.CHALLENGE: "Challenges",
}


@dataclass
class Chapter:
    entry: TocEntry | None
    sections: list[TocEntry] = field(default_factory=list)


@dataclass
class ReportPage:
    report: Report
    currency: str  # the visitor's (common/currency.py): the prices shown are in it
    licences: list[Licence]
    dynamics: list[tuple[str, str, list[MarketDynamic]]]
    segments_by_type: list[Segment]
    segments_by_application: list[Segment]
    regions: list[Region]
    largest_region: Region | None
    key_players: list[KeyPlayer]
    chapters: list[Chapter]
    canonical_url: str
    description: str
    structured_data: list[dict]
    # Cards (number, slug, title) computed by beat (reports/services/related.py).
    similar_reports: list[dict] = field(default_factory=list)
    also_requested: list[dict] = field(default_factory=list)

    @property
    def is_upcoming(self) -> bool:
        return self.report.status == Report.Status.UPCOMING

    @property
    def lowest_price(self) -> Licence | None:
        return min(self.licences, key=lambda licence: licence.price_in(self.currency), default=None)

    @property
    def regions_with_share(self) -> list[Region]:
        return [region for region in self.regions if region.share_percent is not None]


def _dynamics_by_kind(report: Report) -> list[tuple[str, str, list[MarketDynamic]]]:
    rows = list(report.dynamics.all())
    grouped = []
    for kind, heading in DYNAMIC_HEADINGS.items():
        items = [row for row in rows if row.kind == kind]
        if items:
            grouped.append((kind.value, heading, items))
    return grouped


def _chapters(entries: list[TocEntry]) -> list[Chapter]:
    """Level-1 entries with their level-2 sections beneath (sections before the first
    chapter get a chapter of their own with no title)."""
    chapters: list[Chapter] = []
    for entry in entries:
        if entry.level == 1:
            chapters.append(Chapter(entry=entry))
        elif chapters:
            chapters[-1].sections.append(entry)
        else:
            chapters.append(Chapter(entry=None, sections=[entry]))
    return chapters


def _largest_region(regions: list[Region]) -> Region | None:
    shared = [region for region in regions if region.share_percent is not None]
    return max(shared, key=lambda region: region.share_percent, default=None)


def _related(report: Report) -> RelatedReports | None:
    """The stored related reports, joined by report_get_public (None when not computed
    yet). A report read otherwise costs one query here."""
    try:
        return report.related_reports
    except RelatedReports.DoesNotExist:
        return None


def report_page_build(*, report: Report, currency: str) -> ReportPage:
    licences = getattr(report, "active_licences", None)
    if licences is None:  # a report not read through report_get_public
        licences = list(report.licences.filter(is_active=True).order_by("price", "position"))
    segments = list(report.segments.all())
    regions = list(report.regions.all())
    related = _related(report)
    return ReportPage(
        report=report,
        currency=currency,
        licences=licences,
        dynamics=_dynamics_by_kind(report),
        segments_by_type=[s for s in segments if s.dimension == Segment.Dimension.TYPE],
        segments_by_application=[
            s for s in segments if s.dimension == Segment.Dimension.APPLICATION
        ],
        regions=regions,
        largest_region=_largest_region(regions),
        key_players=list(report.key_players.all()),
        chapters=_chapters(list(report.toc_entries.all())),
        canonical_url=absolute_url(report.get_absolute_url()),
        description=report_description(report),
        structured_data=report_structured_data(report, licences, currency),
        similar_reports=related.similar if related else [],
        also_requested=related.also_requested if related else [],
    )

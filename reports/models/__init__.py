from .alerts import AlertSubscription
from .catalogue import (
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
from .documents import ReportDocument
from .editions import ReportEdition
from .quality import QualityAcknowledgement
from .related import RelatedReports
from .search import SearchTerm

__all__ = [
    "AlertSubscription",
    "Category",
    "FrequentQuestion",
    "KeyPlayer",
    "Licence",
    "MarketDynamic",
    "QualityAcknowledgement",
    "Region",
    "RegionCountry",
    "RelatedReports",
    "Report",
    "ReportDocument",
    "ReportEdition",
    "SearchTerm",
    "Segment",
    "TocEntry",
]

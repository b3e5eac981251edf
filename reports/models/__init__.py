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

__all__ = [
    "Category",
    "FrequentQuestion",
    "KeyPlayer",
    "Licence",
    "MarketDynamic",
    "Region",
    "RegionCountry",
    "Report",
    "ReportDocument",
    "Segment",
    "TocEntry",
]

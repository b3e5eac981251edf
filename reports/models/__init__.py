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

__all__ = [
    "Category",
    "FrequentQuestion",
    "KeyPlayer",
    "Licence",
    "MarketDynamic",
    "Region",
    "RegionCountry",
    "Report",
    "Segment",
    "TocEntry",
]

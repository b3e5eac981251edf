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
from .orders import (
    Deliverable,
    DownloadLink,
    DownloadLog,
    Order,
    OrderEvent,
    OrderReferenceCounter,
    StripeEvent,
)
from .quality import QualityAcknowledgement
from .search import SearchTerm

__all__ = [
    "Category",
    "Deliverable",
    "DownloadLink",
    "DownloadLog",
    "FrequentQuestion",
    "KeyPlayer",
    "Licence",
    "MarketDynamic",
    "Order",
    "OrderEvent",
    "OrderReferenceCounter",
    "QualityAcknowledgement",
    "Region",
    "RegionCountry",
    "Report",
    "ReportDocument",
    "SearchTerm",
    "Segment",
    "StripeEvent",
    "TocEntry",
]

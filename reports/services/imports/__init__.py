"""Bulk import of reports from JSON Lines or CSV (docs/import-format.md): readers stream
the file, `schema` checks each line, `writer` merges and writes in batches through the
publishing gate. The command, the admin and the seed loader all use `reports_import`."""

from .readers import ImportFileInvalid, Record, RecordReader, format_for
from .schema import LineInvalid, ReportState, parse_line
from .writer import ImportSummary, LineResult, PresetAcknowledgement, ReportImporter, reports_import

__all__ = [
    "ImportFileInvalid",
    "ImportSummary",
    "LineInvalid",
    "LineResult",
    "PresetAcknowledgement",
    "Record",
    "RecordReader",
    "ReportImporter",
    "ReportState",
    "format_for",
    "parse_line",
    "reports_import",
]

"""Import files read as a stream of (line number, record) pairs, never whole: JSON Lines
(one report per line) and CSV (one report per row, columns in docs/import-format.md).
Each reader also says how far into the file it is, for the progress bar."""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from .schema import PART_SECTIONS, REPORT_FIELDS

CSV_COLUMNS = (*REPORT_FIELDS, "category", "category_slug", *PART_SECTIONS)
# Report fields with a default: an empty cell leaves them out rather than blanking them.
CSV_DEFAULTED = {"slug", "status", "market_size_currency", "is_demo"}
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1", "t", "y"}, {"false", "no", "0", "f", "n", ""}


class ImportFileInvalid(Exception):
    """The file as a whole cannot be read (not a line: e.g. unknown CSV columns)."""


@dataclass
class Record:
    line: int
    data: Any = None
    error: str = ""  # the line could not be read (not JSON, a bad cell)
    field: str = ""


class _Counting(io.RawIOBase):
    """Counts the bytes read through it: the position in the file, for progress."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


class RecordReader:
    """Iterate to get records; `position` is the number of bytes consumed so far."""

    def __init__(self, stream: IO[bytes], *, fmt: str):
        if fmt not in ("jsonl", "csv"):
            raise ImportFileInvalid(f"Unknown format {fmt!r}: use jsonl or csv.")
        self.fmt = fmt
        self.counting = _Counting(stream)
        self.position = 0

    def __iter__(self) -> Iterator[Record]:
        return self._jsonl() if self.fmt == "jsonl" else self._csv()

    def _jsonl(self) -> Iterator[Record]:
        buffered = io.BufferedReader(self.counting, buffer_size=1 << 16)
        for number, raw in enumerate(buffered, start=1):
            self.position += len(raw)
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                yield Record(line=number, data=json.loads(text))
            except json.JSONDecodeError as exc:
                yield Record(line=number, error=f"not valid JSON: {exc.msg} (column {exc.colno})")

    def _csv(self) -> Iterator[Record]:
        text = io.TextIOWrapper(self.counting, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        columns = reader.fieldnames or []
        unknown = [name for name in columns if name not in CSV_COLUMNS]
        if unknown:
            raise ImportFileInvalid(
                f"Unknown CSV column(s): {', '.join(unknown)}. "
                "The columns are listed in docs/import-format.md."
            )
        start = reader.line_num + 1
        for row in reader:
            self.position = self.counting.count
            yield _csv_record(start, row)
            start = reader.line_num + 1
        self.position = self.counting.count


def _csv_record(line: int, row: dict[str, str]) -> Record:
    if None in row:
        return Record(line=line, error="more cells than columns", field="line")
    report = {}
    for name in REPORT_FIELDS:
        value = (row.get(name) or "").strip() if name in row else None
        if value is None or (value == "" and name in CSV_DEFAULTED):
            continue
        if name == "is_demo":
            if value.lower() not in TRUE_WORDS | FALSE_WORDS:
                return Record(line=line, error="expected true or false", field="report.is_demo")
            report[name] = value.lower() in TRUE_WORDS
        else:
            report[name] = value
    data: dict[str, Any] = {"report": report}
    if row.get("category"):
        data["category"] = {"name": row["category"], "slug": row.get("category_slug") or ""}
    for section in PART_SECTIONS:
        cell = (row.get(section) or "").strip()
        if not cell:
            continue  # not given: the report's parts of this kind stay as they are
        try:
            data[section] = json.loads(cell)
        except json.JSONDecodeError as exc:
            return Record(line=line, error=f"not valid JSON: {exc.msg}", field=section)
    return Record(line=line, data=data)


def format_for(name: str) -> str:
    """jsonl or csv, from a file name."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise ImportFileInvalid(f"Cannot tell the format of {name!r}: name it .jsonl or .csv.")

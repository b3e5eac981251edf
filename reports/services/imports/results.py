"""What an import reports: per line and in total, and the acknowledgements code may supply."""

from dataclasses import dataclass, field

from ...models import Report


@dataclass(frozen=True)
class PresetAcknowledgement:
    """An acknowledgement supplied by code, not by a line (the seed loader's known
    contradiction): it applies to the report's error of this code whose wording contains
    `contains`."""

    number: int
    code: str
    contains: str
    note: str
    by_name: str


@dataclass
class LineResult:
    line: int
    number: int | None = None
    outcome: str = "failed"  # created, updated, unchanged, failed
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    held_back: bool = False
    report: Report | None = None


@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    held_back: int = 0
    dry_run: bool = False

    def count(self, result: LineResult) -> None:
        self.lines += 1
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        self.held_back += result.held_back

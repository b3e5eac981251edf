"""A one-line progress bar for long commands, written to a terminal only (redirected
output and logs stay clean), redrawn at most a few times a second."""

import shutil
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, *, total: int, stream: TextIO, unit: str = "lines", enabled=None):
        self.total = max(total, 1)
        self.stream, self.unit = stream, unit
        self.enabled = stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.drawn_at = 0.0

    def update(self, done: int, *, count: int, force: bool = False) -> None:
        """`done` out of `total` (bytes of the file, or items); `count` items so far."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self.drawn_at < 0.25):
            return
        self.drawn_at = now
        fraction = min(done / self.total, 1.0)
        elapsed = now - self.started
        rate = count / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        text = f" {fraction:4.0%}  {count:,} {self.unit}  {rate:,.0f}/s  ETA {_clock(eta)}"
        width = max(10, min(40, shutil.get_terminal_size().columns - len(text) - 3))
        filled = int(width * fraction)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}]{text}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"

"""A circuit breaker for calls a request must never wait on twice: after a failure the call
is skipped for a cool-down, so an outage costs one timeout per process, not one per request."""

import time


class Breaker:
    def __init__(self):
        self.open_until = 0.0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self, *, seconds: float) -> None:
        self.open_until = time.monotonic() + seconds

    def reset(self) -> None:
        self.open_until = 0.0

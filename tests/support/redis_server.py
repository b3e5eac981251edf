"""A Redis of our own: a real redis-server on a free loopback port, for a worker that must not
share a broker with the session's worker, or a Redis a test stops and starts again on the
same port. The machine's shared Redis is never stopped or reconfigured by tests."""

import subprocess
import tempfile
import time
from pathlib import Path

import redis

from .smtp import free_port

__all__ = ["RedisServer", "free_port"]


class RedisServer:
    def __init__(self, directory: Path | None = None):
        self._temporary = None if directory else tempfile.TemporaryDirectory(prefix="redis-")
        self.directory = Path(directory or self._temporary.name)
        self.port = free_port()
        self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20.0) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: {self._log_tail()}")
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} not answering after {timeout}s")

    def stop(self):
        """Stop the server for real (its data is gone, as after a crash without persistence)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cleanup(self):
        self.stop()
        if self._temporary is not None:
            self._temporary.cleanup()

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""

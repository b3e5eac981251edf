"""Real Celery worker processes for tests, consuming from a test broker and writing to the
test database. Each runs in a process group of its own, so a test can SIGKILL it (or one of
its pool children) and nothing it started outlives the test."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings

QUEUES = settings.CELERY_QUEUES_ALL


def database_url() -> str:
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        raise RuntimeError(
            "The worker tests need PostgreSQL: set DATABASE_URL=postgres://… (make test does)."
        )
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    shared: "WorkerProcess | None" = None  # the session's worker, once a test started it

    def __init__(
        self,
        *,
        log_path: Path,
        extra_env: dict[str, str],
        queues: str = QUEUES,
        concurrency: int = 2,
        beat: bool = False,
        name: str = "test",
    ):
        self.log_path = log_path
        self.extra_env = extra_env
        self.queues = queues
        self.concurrency = concurrency
        self.beat = beat
        self.hostname = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}@localhost"
        self.process = None
        self.log = None

    @property
    def broker_url(self) -> str:
        return self.extra_env.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)

    def start(self, timeout: float = 60.0):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smosite.settings.test",
            "DATABASE_URL": database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            **self.extra_env,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smosite",
            "worker",
            "-Q",
            self.queues,
            "--concurrency",
            str(self.concurrency),
            "--without-mingle",
            "--without-gossip",
            "--include",
            "tests.support.worker_hooks",
            "--loglevel",
            "INFO",
            "--hostname",
            self.hostname,
        ]
        if self.beat:
            schedule = self.log_path.with_suffix(".beat-schedule")
            command += ["--beat", "--schedule", str(schedule)]
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            start_new_session=True,  # its own process group: kill() takes every child with it
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{self.tail()}")
            if b" ready." in self._log_since_start():
                return
            time.sleep(0.1)
        raise RuntimeError(f"Celery worker not ready after {timeout}s:\n{self.tail()}")

    def _log_since_start(self) -> bytes:
        with open(self.log_path, "rb") as handle:
            handle.seek(self.offset)
            return handle.read()

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def children(self) -> list[int]:
        """The pool's processes (the worker's direct children)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def kill_child(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole worker, main process and pool, as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # pool children left behind
            self.process.wait()
        self._close_log()

    def _close_log(self):
        if self.log and not self.log.closed:
            self.log.close()

    # --- A clean slate between tests ------------------------------------------------------

    def quiesce(self, timeout: float = 60.0) -> None:
        """Leave nothing of an earlier test behind: no message waiting in the queues, nothing
        reserved (delayed retries the worker holds are revoked), nothing running."""
        from smosite.celery import app

        broker = redis.Redis.from_url(self.broker_url)
        broker.delete(*self._queue_keys())
        with self._own_broker():
            inspect = self._inspect()
            held = [t["id"] for t in (inspect.reserved() or {}).get(self.hostname, [])]
            held += [t["request"]["id"] for t in (inspect.scheduled() or {}).get(self.hostname, [])]
            if held:
                app.control.revoke(held, destination=[self.hostname])
        self.wait_idle(timeout=timeout, why="still busy with an earlier test's tasks")

    def wait_idle(self, timeout: float = 60.0, why: str = "not idle") -> None:
        """Wait until every message in the queues has been taken and finished (delayed
        retries the worker holds don't count)."""
        broker = redis.Redis.from_url(self.broker_url)
        deadline = time.monotonic() + timeout
        with self._own_broker():
            inspect = self._inspect()
            while time.monotonic() < deadline:
                waiting = sum(broker.llen(key) for key in self._queue_keys())
                active = (inspect.active() or {}).get(self.hostname)
                reserved = (inspect.reserved() or {}).get(self.hostname)
                if not waiting and active == [] and reserved == []:
                    return
                time.sleep(0.1)
        raise AssertionError(
            f"the test worker was {why} after {timeout}s (queued: {waiting}, active: "
            f"{active}, reserved: {reserved}):\n{self.tail()}"
        )

    def _queue_keys(self) -> list[str]:
        names = self.queues.split(",")
        return [*names, *(f"{q}\x06\x16{p}" for q in names for p in range(1, 10))]

    def _own_broker(self):
        """Remote control goes through this worker's broker, whichever one this process is
        pointed at (a fault test may have switched it)."""
        from tests.support.broker import broker_at

        return broker_at(self.broker_url)

    def _inspect(self):
        from smosite.celery import app

        return app.control.inspect(destination=[self.hostname], timeout=5, limit=1)

"""The site served by a real gunicorn on a free loopback port, in a process group of its own,
against the test database."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from .ports import Reserved
from .worker import database_url


class GunicornServer:
    def __init__(self, *, log_path: Path, settings_module: str, workers: int = 2, env=None):
        self.reserved = Reserved()
        self.port = self.reserved.port
        self.log_path = log_path
        self.settings_module = settings_module
        self.workers = workers
        self.env = env or {}
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DATABASE_URL": database_url(),
            "SMOSITE_VAR_DIR": str(settings.VAR_DIR),
            **self.env,
        }
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        bind, fds = self.reserved.gunicorn_bind()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "smosite.wsgi",
                *bind,
                "--workers",
                str(self.workers),
                "--timeout",
                "30",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            pass_fds=fds,
        )
        self.reserved.release()  # gunicorn holds the listening socket now
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/robots.txt", timeout=2):  # noqa: S310
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn not answering after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

"""The whole site as `make run` (Procfile.dev) or `make run-prod` (Procfile) starts it —
smosite/procfile.py supervising every line of the Procfile — on the test's services: its
PostgreSQL database, a broker and a cache the test chooses, its SMTP server. And a visitor
who reads the pages and posts the forms over HTTP, as a browser without JavaScript does."""

import fcntl
import hashlib
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from tests.conftest import STRIPE_TEST_KEY, STRIPE_TEST_WEBHOOK_SECRET

from .processes import descendants
from .supervised import NOT_INHERITED, Supervised, procfile_processes
from .waiting import wait_until
from .worker import database_url

PROCFILES = {"dev": "Procfile.dev", "prod": "Procfile"}
# What each Procfile runs, as tests.support.supervised.procfile_processes counts it.
EXPECTED = {
    "dev": {"runserver": 1, "gunicorn": 0, "worker": 1, "beat": 1},
    "prod": {"runserver": 0, "gunicorn": 1, "worker": 4, "beat": 1},
}
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "smosite.settings.production",
    "DJANGO_SECRET_KEY": "restart-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
    "STRIPE_ALLOW_TEST_KEYS": "1",
    "STRIPE_WEBHOOK_SECRET": STRIPE_TEST_WEBHOOK_SECRET,
    "SECURE_SSL_REDIRECT": "0",
    "LOG_FORMAT": "plain",
    "GUNICORN_WORKERS": "1",  # the test's visitors come one at a time
}
ALSO_NOT_INHERITED = {"SMOSITE_TEST_ISOLATED", "PYTEST_XDIST_WORKER", "DJANGO_SECRET_KEY"}


def site_env(kind: str, *, port: int, var_dir: Path, **env: str) -> dict[str, str]:
    """What `make run` / `make run-prod` give the processes (port, site URL, var folder,
    settings module), the test database and private storage of this test process, and
    `env` (broker, cache, mail and the test's timings)."""
    private = settings.STORAGES["private"]["OPTIONS"]["location"]
    return {
        **(PROD_ENV if kind == "prod" else {}),
        "PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "SMOSITE_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url(),
        "PRIVATE_STORAGE_URL": f"file://{private}",
        **env,
    }


class ProcfileSite(Supervised):
    def __init__(self, kind: str, *, env: dict[str, str], log_path: Path):
        super().__init__(PROCFILES[kind], env=env, log_path=log_path, port=int(env["PORT"]))
        self.kind = kind
        dropped = NOT_INHERITED | ALSO_NOT_INHERITED
        self.env = {k: v for k, v in self.env.items() if k not in dropped or k in env}

    def wait_ready(self, timeout: float = 180) -> None:
        """Pages answer, every worker is ready and beat runs."""
        workers = EXPECTED[self.kind]["worker"]

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"the supervisor exited:\n{self.tail()}")
            out = self.output()
            started = out.count(" ready.") >= workers and "beat: Starting" in out
            return started and self.get("/robots.txt")[0] == 200

        wait_until(ready, timeout=timeout, interval=0.5, message=self.tail())

    def running(self) -> dict[str, int]:
        return procfile_processes(descendants(self.process.pid))

    def exits(self) -> list[str]:
        """The supervisor's lines about processes that exited on their own."""
        return [line for line in self.output().splitlines() if " exited after " in line]


def collectstatic(env: dict[str, str]) -> None:
    """`make run-prod` collects static files before it starts the processes: production
    serves them from the manifest. Compressing them all takes most of a minute on two cores,
    so they are collected once for the sources as they are (this checkout's static folders
    and uv.lock), shared by every test process (under a lock) and every later run, and the
    site's var folder links to them."""
    shared = settings.BASE_DIR / "var" / "test" / f"staticfiles-production-{_static_key()}"
    shared.parent.mkdir(parents=True, exist_ok=True)
    with open(shared.parent / "staticfiles-production.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "staticfiles.json").exists():
            build = Path(tempfile.mkdtemp(dir=shared.parent))
            subprocess.run(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                cwd=settings.BASE_DIR,
                env={**os.environ, **env, "SMOSITE_VAR_DIR": str(build)},
                check=True,
            )
            shutil.rmtree(shared, ignore_errors=True)
            (build / "staticfiles").rename(shared)
            shutil.rmtree(build, ignore_errors=True)
    link = Path(env["SMOSITE_VAR_DIR"]) / "staticfiles"
    if not link.exists():
        link.symlink_to(shared, target_is_directory=True)


def _static_key() -> str:
    digest = hashlib.sha256((settings.BASE_DIR / "uv.lock").read_bytes())
    for folder in sorted(settings.BASE_DIR.glob("*/static")) + [settings.BASE_DIR / "static"]:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


class Visitor:
    """Pages and forms over HTTP: a form is read first (its CSRF cookie and token, its signed
    "shown at" field), then posted back; redirects are not followed."""

    def __init__(self, port: int, *, timeout: float = 15):
        self.port = port
        self.timeout = timeout

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read().decode()
        finally:
            conn.close()

    def post_form(self, path: str, fields: dict[str, str]) -> int:
        status, headers, page = self.request("GET", path)
        assert status == 200, f"GET {path}: {status}"
        cookie = next(
            value.split(";", 1)[0]
            for name, value in headers
            if name.lower() == "set-cookie" and value.startswith("csrftoken=")
        )
        hidden = dict(
            re.findall(r'name="(csrfmiddlewaretoken|form_started)" value="([^"]+)"', page)
        )
        body = urllib.parse.urlencode({**hidden, **fields})
        status, _, _ = self.request(
            "POST",
            path,
            body=body,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        return status


@dataclass
class PageWatch:
    """GETs `paths` in turn every `interval` seconds in a thread until `stop()`: what a
    visitor sees while the test breaks things."""

    visitor: Visitor
    paths: list[str]
    interval: float = 0.2
    answers: list[tuple[str, int | None, float]] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "PageWatch":
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            path = self.paths[n % len(self.paths)]
            started = time.monotonic()
            try:
                status = self.visitor.request("GET", path)[0]
            except OSError:
                status = None
            self.answers.append((path, status, time.monotonic() - started))
            n += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def failures(self) -> list[tuple[str, int | None, float]]:
        return [answer for answer in self.answers if answer[1] != 200]

    @property
    def longest(self) -> float:
        return max((seconds for _, _, seconds in self.answers), default=0.0)

"""`make run` and `make run-prod` as a supervisor, a container or CI starts them: in a new
session and process group, without a terminal. Each starts every process of its Procfile
through honcho, answers on its port, and stops every process it started within 10 s of one
SIGINT or SIGTERM to its process group."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings

from tests.conftest import STRIPE_TEST_KEY, STRIPE_TEST_WEBHOOK_SECRET
from tests.support.processes import alive_in, descendants, sessions_of
from tests.support.redis_server import RedisServer, free_port
from tests.support.waiting import wait_until
from tests.support.worker import database_url

STOP_WITHIN_SECONDS = 10
# What the test session's environment must not hand to `make run` (it runs on its embedded
# defaults) and that make itself sets for sub-makes.
NOT_INHERITED = {
    "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE", "EMAIL_URL",
    "SITE_URL", "PRIVATE_STORAGE_URL", "LOG_FORMAT", "SMOSITE_VAR_DIR", "PORT",
    "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
}  # fmt: skip


class MakeRun:
    """`make <target>` in its own session (so its pid is its process group id), no terminal."""

    def __init__(self, target: str, *, env: dict[str, str], log_path, piped: bool = False):
        self.target = target
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | env
        self.piped = piped
        self.process = None

    def start(self) -> "MakeRun":
        """With `piped`, the output goes through `cat` in the same process group, as in
        `make run | tee run.log`: the signal that stops make stops its reader too."""
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = ["make", "--no-print-directory", self.target]
        if self.piped:
            command = ["bash", "-c", f"make --no-print-directory {self.target} | cat"]
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def get(self, path: str, headers=None):
        url = f"http://127.0.0.1:{self.env['PORT']}{path}"
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()
        except OSError:
            return None, {}, b""

    def wait_answering(self, timeout: float = 240):
        def healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"make {self.target} exited:\n{self.tail()}")
            return self.get("/healthz")[0] == 200

        wait_until(healthy, timeout=timeout, interval=0.5, message=self.tail())

    def stop_with(self, signum) -> None:
        """Signal the whole process group, as a supervisor does, then require every process
        `make` started, in any session, to be gone within STOP_WITHIN_SECONDS."""
        tree = descendants(self.process.pid)
        pids = {self.process.pid, *tree}
        sessions = sessions_of(pids)
        with contextlib.suppress(ProcessLookupError):  # make already gone: check the rest
            os.killpg(self.process.pid, signum)

        def all_gone():
            self.process.poll()  # reap make itself
            return not alive_in(pids=pids, sessions=sessions, group=self.process.pid)

        try:
            wait_until(
                all_gone,
                timeout=STOP_WITHIN_SECONDS,
                interval=0.2,
                message=f"still running {STOP_WITHIN_SECONDS} s after {signum.name}",
            )
        finally:
            self.kill_leftovers(pids, sessions)
            self.log.close()

    def kill_leftovers(self, pids, sessions):
        for pid in alive_in(pids=pids, sessions=sessions, group=self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=20)


def procfile_processes(tree: dict[int, str]) -> dict[str, int]:
    """How many processes of each kind honcho started (the shell line's own process)."""
    commands = [line for line in tree.values() if not line.startswith(("/bin/sh", "sh "))]
    return {
        "runserver": sum("manage.py runserver" in c for c in commands),
        "gunicorn": sum("gunicorn smosite.wsgi" in c for c in commands),
        "worker": sum(" worker " in c and "celery" in c for c in commands),
        "beat": sum(" beat " in c and "celery" in c for c in commands),
    }


# --- make run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_var_dir(tmp_path_factory):
    """One runtime folder for both signals: the second run finds it migrated."""
    return tmp_path_factory.mktemp("make-run-var")


@pytest.mark.parametrize(
    ("signum", "piped"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGINT", "SIGTERM", "SIGINT-output-piped"],
)
def test_make_run_starts_web_worker_and_beat_and_stops_them_all_on_a_group_signal(
    signum, piped, run_var_dir, tmp_path
):
    run = MakeRun(
        "run",
        env={"SMOSITE_VAR_DIR": str(run_var_dir), "PORT": str(free_port())},
        log_path=tmp_path / "make-run.log",
        piped=piped,
    ).start()
    try:
        run.wait_answering()
        wait_until(lambda: " ready." in run.output(), timeout=120, message=run.tail())
        wait_until(lambda: "beat: Starting" in run.output(), timeout=60, message=run.tail())
        status, _, body = run.get("/healthz/ready")
        assert json.loads(body) == {
            "database": "ok", "broker": "ok", "cache": "ok", "storage": "ok",
        }  # fmt: skip
        counts = procfile_processes(descendants(run.process.pid))
        assert counts["runserver"] >= 1 and counts["worker"] >= 1 and counts["beat"] == 1
        password = (run_var_dir / "admin-password.txt").read_text().strip()
        assert f"password: {password}" in run.output()
        port = run.env["PORT"]
        assert f"Site:   http://127.0.0.1:{port}/" in run.output()
    finally:
        run.stop_with(signum)


# --- make run-prod ----------------------------------------------------------------------------


@pytest.fixture
def prod_services(s3_server, smtp_server, stripe_server):
    redis = RedisServer().start()
    bucket = s3_server.bucket_create()
    yield {
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1),
        "PRIVATE_STORAGE_URL": s3_server.storage_url(bucket),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "STRIPE_API_BASE": stripe_server.url,
    }
    redis.cleanup()


@pytest.mark.django_db(transaction=True)
def test_make_run_prod_serves_through_gunicorn_with_a_worker_per_queue_and_one_beat(
    prod_services, tmp_path
):
    port = free_port()
    env = {
        **prod_services,
        "DJANGO_SECRET_KEY": "run-prod-test-secret-key-0123456789-abcdefghijklmnopqrstuv",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
        "STRIPE_ALLOW_TEST_KEYS": "1",
        "STRIPE_WEBHOOK_SECRET": STRIPE_TEST_WEBHOOK_SECRET,
        "SECURE_SSL_REDIRECT": "0",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "SMOSITE_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "GUNICORN_WORKERS": "2",
        "WORKER_PDF_CONCURRENCY": "1",
        "WORKER_MAIL_CONCURRENCY": "1",
        "WORKER_PAYMENTS_CONCURRENCY": "1",
        "WORKER_DEFAULT_CONCURRENCY": "1",
    }
    run = MakeRun("run-prod", env=env, log_path=tmp_path / "make-run-prod.log").start()
    try:
        run.wait_answering()
        status, headers, body = run.get(
            "/healthz/ready", headers={"X-Request-ID": "prod-check-0001"}
        )
        assert status == 200 and headers["X-Request-ID"] == "prod-check-0001"
        assert json.loads(body) == {
            "database": "ok", "broker": "ok", "cache": "ok", "storage": "ok",
        }  # fmt: skip
        access = wait_until(
            lambda: [
                json.loads(line.split("| ", 1)[1])
                for line in run.output().splitlines()
                if "| {" in line and "rid=prod-check-0001" in line
            ],
            timeout=30,
            message=run.tail(),
        )
        assert (
            access[0]["logger"] == "gunicorn.access"
            and "GET /healthz/ready" in access[0]["message"]
        )

        queues = wait_until(lambda: active_queues(env), timeout=120, interval=1, message=run.tail())
        assert queues == {
            "default": ["default"], "pdf": ["pdf"], "mail": ["mail"], "payments": ["payments"],
        }  # fmt: skip
        counts = procfile_processes(descendants(run.process.pid))
        assert counts["gunicorn"] == 1 + 2 and counts["beat"] == 1 and counts["worker"] >= 4
        assert counts["runserver"] == 0
    finally:
        run.stop_with(signal.SIGTERM)


def active_queues(env) -> dict[str, list[str]] | None:
    """docs/deploy.md's recipe: `celery -A smosite inspect active_queues --json`, as
    {node name before "@": [queues it consumes]}; None until all four nodes answer."""
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "smosite", "inspect", "active_queues",
         "--json", "--timeout", "3"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "smosite.settings.production"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        return None
    nodes = json.loads(result.stdout.strip().splitlines()[-1])
    found = {
        node.split("@", 1)[0]: sorted(queue["name"] for queue in queues)
        for node, queues in nodes.items()
    }
    return found if len(found) == 4 else None

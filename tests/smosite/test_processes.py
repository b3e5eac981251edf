"""`make run` and `make run-prod` as a supervisor, a container or CI starts them: in a new
session and process group, without a terminal. Each starts every process of its Procfile
through honcho, answers on its port, and stops every process it started within 10 s of one
SIGINT or SIGTERM to its process group."""

import contextlib
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import STRIPE_TEST_KEY, STRIPE_TEST_WEBHOOK_SECRET
from tests.support.deploy import installation
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
@pytest.mark.timeout(420)  # the first run, then make run-prod: two phases under one limit
def test_make_run_prod_from_the_env_template_serves_through_gunicorn_with_a_worker_per_queue_and_one_beat(
    prod_services, tmp_path
):
    """As docs/deploy.md has an operator do it: install.sh writes /etc/smosite/env from the
    template (here in a prefix), the operator adds the services' values, `smosite manage
    site_init` makes the first run with that environment, and the processes start from it
    (read as systemd reads it: the S3 URL's `&` and the sender's spaces and `<>` intact)."""
    port = free_port()
    installed = installation(tmp_path / "root", "--user", "root")
    operator = {
        **prod_services,
        "DOWNLOAD_ACCEL_REDIRECT": "",  # PDFs on S3: gunicorn streams them (the template says)
        "DATABASE_URL": database_url(),
        "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
        "STRIPE_ALLOW_TEST_KEYS": "1",
        "STRIPE_WEBHOOK_SECRET": STRIPE_TEST_WEBHOOK_SECRET,
        "GUNICORN_WORKERS": "2",
        "WORKER_PDF_CONCURRENCY": "1",
        "WORKER_MAIL_CONCURRENCY": "1",
        "WORKER_PAYMENTS_CONCURRENCY": "1",
        "WORKER_DEFAULT_CONCURRENCY": "1",
    }
    with installed.env_file.open("a") as env_file:  # later lines win, as in systemd
        env_file.writelines(f"{name}={value}\n" for name, value in operator.items())
    first_run = subprocess.run(
        # make run-prod collects the static files (40 s of CPU here): not twice.
        [str(installed.wrapper), "manage", "site_init", "--no-input", "--skip-static"],
        env={**os.environ, "DJANGO_SUPERUSER_USERNAME": "publisher",
             "DJANGO_SUPERUSER_EMAIL": "it@reports.example.com",
             "DJANGO_SUPERUSER_PASSWORD": "a long passphrase nobody guesses 7"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert first_run.returncode == 0, first_run.stdout + first_run.stderr
    assert "Created report 1780960" in first_run.stdout
    assert "created superuser publisher" in first_run.stdout

    env = installed.environment() | {"SMOSITE_VAR_DIR": str(installed.var_dir), "PORT": str(port)}
    assert env["DEFAULT_FROM_EMAIL"] == "Reliable Research IQ <reports@reports.example.com>"
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
        # A load balancer's check: plain HTTP, by address. The rest of the site redirects
        # plain HTTP, and answers its name over HTTPS (as nginx passes it) with the content
        # the first run loaded.
        assert run.get("/healthz", headers={"Host": "10.0.3.7:8000"})[0] == 200
        status, headers, _ = fetch(port, "/", headers={"Host": "reports.example.com"})
        assert (status, headers["Location"]) == (301, "https://reports.example.com/")
        status, _, body = fetch(port, REPORT_PATH, headers={
            "Host": "reports.example.com", "X-Forwarded-Proto": "https"})  # fmt: skip
        assert status == 200 and b"Clinical Trials Site Management" in body
        assert "Invalid HTTP_HOST" not in run.output()
        tree = descendants(run.process.pid)
        master = next(pid for pid, line in tree.items() if "gunicorn smosite.wsgi" in line)
        served_with = dict(
            item.split("=", 1)
            for item in Path(f"/proc/{master}/environ").read_text().split("\0")
            if "=" in item
        )
        assert served_with["DEFAULT_FROM_EMAIL"] == env["DEFAULT_FROM_EMAIL"]
        assert served_with["PRIVATE_STORAGE_URL"] == prod_services["PRIVATE_STORAGE_URL"]

        # docs/deploy.md's recipe: `sudo smosite celery -A smosite inspect …`.
        queues = wait_until(
            lambda: active_queues(installed), timeout=120, interval=1, message=run.tail()
        )
        assert queues == {
            "default": ["default"], "pdf": ["pdf"], "mail": ["mail"], "payments": ["payments"],
        }  # fmt: skip
        counts = procfile_processes(descendants(run.process.pid))
        assert counts["gunicorn"] == 1 + 2 and counts["beat"] == 1 and counts["worker"] >= 4
        assert counts["runserver"] == 0
    finally:
        run.stop_with(signal.SIGTERM)


REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(port: int, path: str, headers: dict[str, str]):
    """One request, its redirect not followed."""
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def active_queues(installed) -> dict[str, list[str]] | None:
    """docs/deploy.md's recipe: `smosite celery -A smosite inspect active_queues --json` (the
    units' environment), as {node name before "@": [queues it consumes]}; None until all
    four nodes answer."""
    result = subprocess.run(
        [str(installed.wrapper), "celery", "-A", "smosite", "inspect", "active_queues",
         "--json", "--timeout", "3"],
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

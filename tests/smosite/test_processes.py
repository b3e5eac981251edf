"""`make run` and `make run-prod` as a supervisor, a container or CI starts them: in a new
session and process group, without a terminal. Each starts every process of its Procfile
through honcho, answers on its port, and stops every process it started within 10 s of one
SIGINT or SIGTERM to its process group."""

import json
import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import STRIPE_TEST_KEY, STRIPE_TEST_WEBHOOK_SECRET
from tests.support.deploy import installation
from tests.support.processes import descendants
from tests.support.redis_server import RedisServer, free_port
from tests.support.supervised import MakeRun, Supervised, procfile_processes
from tests.support.waiting import wait_until
from tests.support.worker import database_url

RESTART_LINE = re.compile(
    r"(\w+)\.1 exited after [\d.]+ s .* again in ([\d.]+) s \(exit (\d+) in a row\)"
)


def test_a_process_that_exits_is_started_again_after_a_growing_delay_and_the_others_keep_running(
    tmp_path,
):
    """`flaky` exits at once: started again after 0.2 s, 0.4 s, then the 0.8 s maximum. `slow` stays up
    longer than the maximum each time, so each of its exits starts over at 0.2 s. `steady`
    is never touched. A group signal still stops all of it, a restart pending or not."""
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "steady: exec sleep 600\nflaky: echo flaky up; exit 3\nslow: sleep 1.2; exit 4\n"
    )
    env = {"PROCESS_RESTART_DELAY_SECONDS": "0.2", "PROCESS_RESTART_MAX_DELAY_SECONDS": "0.8"}
    run = Supervised(
        procfile, env=env, log_path=tmp_path / "procfile.log", app_root=tmp_path
    ).start()
    try:

        def restarts():
            found = [m.groups() for m in RESTART_LINE.finditer(run.output())]
            flaky = [(float(d), int(n)) for name, d, n in found if name == "flaky"]
            slow = [(float(d), int(n)) for name, d, n in found if name == "slow"]
            return (flaky, slow) if len(flaky) >= 4 and len(slow) >= 2 else None

        flaky, slow = wait_until(restarts, timeout=60, message=run.tail())
        assert flaky[:4] == [(0.2, 1), (0.4, 2), (0.8, 3), (0.8, 4)]
        assert slow[:2] == [(0.2, 1), (0.2, 1)]
        assert run.output().count("steady.1 started") == 1
        assert run.output().count("flaky up") >= 4  # really started again, each time
        steady = [pid for pid, cmd in descendants(run.process.pid).items() if cmd == "sleep 600"]
        assert len(steady) == 1
    finally:
        run.stop_with(signal.SIGTERM)
    assert "SIGTERM received" in run.output()


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

"""The systemd units install.sh installs: systemd's own check accepts them, they run the
Procfile's commands (worker concurrency from WORKER_*_CONCURRENCY), set the production settings
themselves and load the environment file, and their commands, started the way systemd starts
them, serve: two gunicorn pools on their own ports and control sockets, a worker with the
concurrency the file asks for."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest

from smosite.envfile import env_file_read
from tests.support.deploy import ROOT, UNITS, UnitFile, installation
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until
from tests.support.worker import database_url

SERVICES = [name for name in UNITS if name.endswith(".service")]
SITE_SERVICES = [name for name in SERVICES if name != "smosite-backup.service"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return installation(tmp_path_factory.mktemp("units") / "root")


def test_systemd_analyze_verify_accepts_every_unit(installed):
    """systemd's own check (it runs without systemd as PID 1): the syntax, every setting
    known, every ExecStart executable. Debian's systemd package has it (make test installs
    it: APT_TEST)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (apt-get install systemd)"
    unit_dir = installed.unit("smosite.target").parent
    result = subprocess.run(
        [analyze, "verify", *UNITS], cwd=unit_dir, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_a_unit_with_a_missing_program_is_refused_by_the_same_check(installed, tmp_path):
    """The check above can fail: the same unit with its gunicorn gone is an error."""
    broken = tmp_path / "smosite-web.service"
    broken.write_text(installed.unit("smosite-web.service").read_text().replace(
        "/.venv/bin/gunicorn ", "/.venv/bin/no-such-gunicorn "))  # fmt: skip
    result = subprocess.run(["systemd-analyze", "verify", broken.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and "no-such-gunicorn" in result.stderr


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def test_the_units_run_the_procfiles_commands_with_the_same_defaults(installed):
    """`make run-prod` and the units start the same processes; a `${NAME:-default}` of the
    Procfile is the unit's `${NAME}` with `Environment=NAME=default`."""
    venv_bin = f"{ROOT}/.venv/bin/"
    for process, line in procfile().items():
        name = (
            "smosite-web.service"
            if process == "web"
            else f"smosite-{process.replace('_', '-')}.service"
        )
        unit = UnitFile(installed.unit(name))
        command = unit.value("ExecStart").replace("%%", "%")
        assert command.startswith(venv_bin), name
        command = re.sub(r" --control-socket %t/[a-z-]+/gunicorn\.ctl$", "", command)
        defaults = dict(re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", line))
        for variable, default in defaults.items():
            if variable != "SMOSITE_VAR_DIR":  # var/ under make run-prod, the server's here
                assert unit.environment()[variable] == default, (name, variable)
        assert command.removeprefix(venv_bin) == re.sub(r"\$\{([A-Z_]+):-[^}]*\}", r"${\1}", line)


def test_every_unit_sets_production_settings_and_reads_the_env_file(installed):
    wrapper = installed.wrapper.read_text()
    for name in SERVICES:
        unit = UnitFile(installed.unit(name))
        environment = unit.environment()
        assert environment["DJANGO_SETTINGS_MODULE"] == "smosite.settings.production", name
        assert environment["SMOSITE_VAR_DIR"] == str(installed.var_dir), name
        assert unit.value("EnvironmentFile") == str(installed.env_file), name
        assert unit.value("User") == "smosite"
        assert unit.values("ReadWritePaths")[0] == str(installed.var_dir), name
        # `sudo smosite …` gives commands the same settings.
        for variable in ("DJANGO_SETTINGS_MODULE", "SMOSITE_VAR_DIR", "XDG_CACHE_HOME"):
            assert f"--set {variable}={environment[variable]} " in wrapper, variable
    for name in SITE_SERVICES:
        assert UnitFile(installed.unit(name)).value("PartOf") == "smosite.target"
        assert UnitFile(installed.unit(name)).value("WantedBy") == "smosite.target"


def test_the_two_gunicorn_pools_have_their_own_ports_and_control_sockets(installed):
    web = UnitFile(installed.unit("smosite-web.service"))
    downloads = UnitFile(installed.unit("smosite-web-downloads.service"))
    assert web.value("RuntimeDirectory") != downloads.value("RuntimeDirectory")
    assert "--control-socket %t/smosite-web/gunicorn.ctl" in web.value("ExecStart")
    assert "--control-socket %t/smosite-web-downloads/gunicorn.ctl" in downloads.value("ExecStart")
    assert downloads.environment()["GUNICORN_DOWNLOADS_BIND"] == "127.0.0.1:8001"


# --- the units' commands, started as systemd starts them ------------------------------------


class UnitProcess:
    """One unit's ExecStart in a session of its own: the unit's Environment=, then the
    environment file over it (as EnvironmentFile= overrides Environment=)."""

    def __init__(self, installed, name: str, *, runtime_dir, log_dir):
        self.unit = UnitFile(installed.unit(name))
        self.name = name
        base = {"PATH": os.environ["PATH"], "HOME": str(log_dir), "LANG": "C.UTF-8"}
        self.environment = base | self.unit.environment() | env_file_read(installed.env_file)
        self.command = self.unit.command(runtime_dir=runtime_dir, environment=self.environment)
        for folder in self.unit.values("RuntimeDirectory"):  # systemd makes it before starting
            (runtime_dir / folder).mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"

    def start(self) -> "UnitProcess":
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - the unit's own command
            self.command, cwd=self.unit.value("WorkingDirectory"), env=self.environment,
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        return self

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
        return True

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def answers(port: int) -> bool:
    """The load balancer's check: plain HTTP, addressed by IP (the site's only name is
    reports.example.com, and production redirects plain HTTP)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": "10.0.3.7"}
    )
    with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status == 200
    return False


def control(socket_path, command: str) -> dict:
    result = subprocess.run(
        [f"{ROOT}/.venv/bin/gunicornc", "-s", str(socket_path), "-c", command, "-j"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


@pytest.mark.django_db(transaction=True)
def test_the_units_commands_serve_with_the_env_files_settings(tmp_path_factory, smtp_server):
    """Web, the downloads pool and the pdf worker, from their units and an environment file
    an operator edited: both pools answer the load balancer's check on their own ports, each
    control socket speaks for its own gunicorn, the worker runs WORKER_PDF_CONCURRENCY
    processes."""
    installed = installation(tmp_path_factory.mktemp("serve") / "root")
    redis = RedisServer().start()
    web_port, downloads_port = free_port(), free_port()
    with installed.env_file.open("a") as env_file:  # what the operator fills in
        env_file.write(
            f"DATABASE_URL={database_url()}\nCELERY_BROKER_URL={redis.url(0)}\n"
            f"CACHE_URL={redis.url(1)}\nEMAIL_URL=smtp://127.0.0.1:{smtp_server.port}\n"
            "STRIPE_SECRET_KEY=sk_test_units\nSTRIPE_ALLOW_TEST_KEYS=1\n"
            "STRIPE_WEBHOOK_SECRET=whsec_units\n"
            f"GUNICORN_BIND=127.0.0.1:{web_port}\nGUNICORN_WORKERS=1\n"
            f"GUNICORN_DOWNLOADS_BIND=127.0.0.1:{downloads_port}\nGUNICORN_DOWNLOADS_WORKERS=2\n"
            "WORKER_PDF_CONCURRENCY=3\n"
        )
    runtime, logs = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("logs")
    names = ["smosite-web.service", "smosite-web-downloads.service", "smosite-worker-pdf.service"]
    processes = [UnitProcess(installed, name, runtime_dir=runtime, log_dir=logs) for name in names]
    try:
        for process in processes:
            process.start()
        web, downloads, worker = processes
        wait_until(lambda: web.alive() and answers(web_port), timeout=120, interval=0.5)
        wait_until(lambda: downloads.alive() and answers(downloads_port), timeout=120, interval=0.5)
        web_stats = control(runtime / "smosite-web" / "gunicorn.ctl", "show stats")
        downloads_stats = control(runtime / "smosite-web-downloads" / "gunicorn.ctl", "show stats")
        assert (web_stats["pid"], web_stats["workers_target"]) == (web.process.pid, 1)
        assert (downloads_stats["pid"], downloads_stats["workers_target"]) == (
            downloads.process.pid,
            2,
        )

        def pool_size():
            worker.alive()
            result = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "smosite", "inspect", "stats", "--json", "--timeout", "3"],
                cwd=ROOT, env=worker.environment, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if result.returncode != 0:
                return None
            nodes = json.loads(result.stdout.strip().splitlines()[-1])
            return [node["pool"]["max-concurrency"] for node in nodes.values()]

        assert wait_until(pool_size, timeout=120, interval=1) == [3]
    finally:
        for process in processes:
            process.stop()
        redis.cleanup()


@pytest.mark.django_db(transaction=True)
def test_the_backup_units_command_writes_a_dump_into_the_backup_folder(tmp_path_factory):
    """smosite-backup.service's own command line, with BACKUP_DATABASE_URL left empty (the
    dump reads DATABASE_URL's database)."""
    installed = installation(tmp_path_factory.mktemp("backup") / "root")
    with installed.env_file.open("a") as env_file:
        env_file.write(f"DATABASE_URL={database_url()}\nEMAIL_URL=smtp://127.0.0.1:25\n"
                       "STRIPE_SECRET_KEY=\nSTRIPE_WEBHOOK_SECRET=\n")  # fmt: skip
    unit = UnitProcess(installed, "smosite-backup.service", runtime_dir=tmp_path_factory.mktemp("run"),
                       log_dir=tmp_path_factory.mktemp("logs"))  # fmt: skip
    assert unit.environment["BACKUP_DATABASE_URL"] == ""
    result = subprocess.run(unit.command, cwd=unit.unit.value("WorkingDirectory"), env=unit.environment,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    backups = installed.prefix / "var" / "backups" / "smosite"
    (dump,) = backups.iterdir()
    assert (
        dump.name.startswith(database_url().rsplit("/", 1)[1] + "-") and dump.stat().st_size > 10000
    )

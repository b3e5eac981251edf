"""What every benchmark starts on loopback: a Redis server of its own, a fresh PostgreSQL
database, gunicorn with production settings, a Celery worker, an SMTP server that timestamps
each message, and the Stripe-compatible test server. Each process is started here and stopped
here (by its own handle, never by name).

Figures go to `var/bench/<name>.json` as a list of rows
`{"section": ..., "measure": ..., "value": ..., "goal": ...}`, which `python -m bench` gathers."""

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from tests.support.ports import Reserved, free_port

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
REPORT_NUMBER = 1780960
REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"
QUEUES = "default,pdf,mail,payments"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789-abcdefghijklmnop"  # noqa: S105
STRIPE_KEY = "sk_test_bench"
STRIPE_WEBHOOK_SECRET = "whsec_bench"  # noqa: S105 - the Stripe test server


def wait_for(check, *, timeout: float, message: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise RuntimeError(message)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def write_rows(name: str, rows: list[dict], **extra) -> Path:
    """The contract with `python -m bench`: var/bench/<name>.json holds the rows."""
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2, default=str))
    if extra:
        (VAR / f"{name}.details.json").write_text(json.dumps(extra, indent=2, default=str))
    return path


def row(section: str, measure: str, value, goal: str = "") -> dict:
    return {"section": section, "measure": measure, "value": value, "goal": goal}


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (5 min {five:.2f})"


class Processes:
    """Every child process a benchmark starts, stopped in reverse order at the end."""

    def __init__(self, log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], *, env: dict | None = None, cwd=ROOT, pass_fds=()):
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.started.clear()
        self.log.close()


def _exit_on_sigterm() -> None:
    """A terminated benchmark (`timeout`, Ctrl-C from make) still stops what it started."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def redis_start(processes: Processes, workdir: Path) -> str:
    """A Redis of the benchmark's own (no persistence): the shared one is left alone."""
    port = free_port()
    processes.start(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
    )
    url = f"redis://127.0.0.1:{port}"

    def answers():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        return False

    wait_for(answers, timeout=10, message="redis-server did not start")
    return url


def database_url(name: str) -> str:
    """A database of this benchmark's own, named after DATABASE_URL's: <db>_bench_<name>."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/')}_bench_{name}"))


def database_recreate(url: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return conn.execute(query, [parts.path.lstrip("/")]).fetchone() is not None


def databases_drop_older(template: str) -> None:
    """Templates of earlier migration states (`<name>_<state>`): dropped."""
    parts = urlsplit(template)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    prefix = name.rsplit("_", 1)[0] + "_"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"])
        for (older,) in rows.fetchall():
            if older != name:
                conn.execute(f'DROP DATABASE IF EXISTS "{older}" WITH (FORCE)')


def database_from_template(url: str, template: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name, source = parts.path.lstrip("/"), urlsplit(template).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')


def source_state() -> str:
    """A short digest of what migrations and collected static files are made from: the
    migration files, the static folder and the lock file (the packages' own static files)."""
    import hashlib

    digest = hashlib.sha256()
    files = [ROOT / "uv.lock", *ROOT.glob("*/migrations/*.py"), *(ROOT / "static").rglob("*")]
    for path in sorted(f for f in files if f.is_file()):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def migrated_database(url: str, manage) -> None:
    """A fresh database at `url`, migrated: a copy of a template migrated once per state of
    the migrations (`manage(*command, env=...)` runs manage.py in the site's settings).
    Migrating for each benchmark module took most of a quick run."""
    template = f"{database_url('template')}_{source_state()}"
    if not database_exists(template):
        databases_drop_older(template)
        # Migrated under another name and renamed when done: a migration that failed
        # (a settings error, say) must not leave an empty template the next run would trust.
        building = f"{template}_building"
        database_recreate(building)
        manage("migrate", "--noinput", "-v0", env={"DATABASE_URL": building})
        database_rename(building, template)
    database_from_template(url, template)


def database_rename(url: str, new_url: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name, new = parts.path.lstrip("/"), urlsplit(new_url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{new}"')


def collected_static(var_dir: Path, manage) -> None:
    """`var_dir/staticfiles` as collectstatic makes it (compressed, with its manifest):
    collected once per state of the static sources and linked, not copied."""
    static = VAR / f"staticfiles-{source_state()}"
    target = var_dir / "staticfiles"
    if not (static / "staticfiles.json").exists():
        manage("collectstatic", "--noinput", "-v0")
        shutil.rmtree(static, ignore_errors=True)
        shutil.move(target, static)
    var_dir.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.symlink_to(static, target_is_directory=True)


def database_drop(url: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


class Inbox:
    """aiosmtpd handler: keeps every message with its arrival time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[tuple[float, bytes]]] = {}
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals.setdefault(rcpt.lower(), []).append((now, envelope.content))
            self.count += 1
        return "250 OK"

    def first_arrival(self, address: str) -> float | None:
        with self.lock:
            found = self.arrivals.get(address.lower())
            return found[0][0] if found else None

    def messages(self, address: str) -> list[bytes]:
        with self.lock:
            return [content for _, content in self.arrivals.get(address.lower(), [])]


class Site:
    """The site as production runs it, on loopback: gunicorn (production settings plus the
    empty view, bench/product), optionally a Celery worker, an SMTP server and the Stripe test
    server, on a fresh database and a Redis of its own."""

    def __init__(
        self,
        name: str,
        *,
        web_workers: int = 2,
        worker_concurrency: int = 0,
        extra_env: dict | None = None,
        nginx: bool = False,
        download_workers: int = 2,
    ):
        self.name = name
        self.nginx = nginx
        self.download_workers = download_workers
        self.extra_env = extra_env or {}
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.processes = Processes(VAR / f"{name}.processes.log")
        self.db_url = database_url(name)
        # Where visitors connect (nginx, or gunicorn without it), and gunicorn's pools behind
        # nginx: reserved now, taken over when each server starts (tests/support/ports.py).
        self.front = Reserved()
        self.web = Reserved() if nginx else self.front
        self.downloads = Reserved() if nginx else None
        self.port = self.front.port
        self.web_port = self.web.port
        self.download_port = self.downloads.port if nginx else self.port
        self.base = f"http://127.0.0.1:{self.port}"
        self.inbox = Inbox()
        self.smtp = None
        self.stripe = None
        self.env: dict = {}

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> "Site":
        _exit_on_sigterm()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        from tests.support.stripe_server import StripeTestServer

        redis_url = redis_start(self.processes, self.tmp)
        smtp_port = free_port()
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=smtp_port)
        self.smtp.start()
        self.stripe = StripeTestServer(
            api_key=STRIPE_KEY, webhook_secret=STRIPE_WEBHOOK_SECRET
        ).start()
        self.stripe.fake.webhook_url = f"{self.base}/stripe/webhook/"
        self.env = self.environment(redis_url=redis_url, smtp_port=smtp_port)
        self.prepare()
        if self.worker_concurrency:
            self.worker_start()
        self.web_start()

    def prepare(self) -> None:
        migrated_database(self.db_url, self.manage)
        collected_static(self.tmp / "var", self.manage)

    def stop(self) -> None:
        self.processes.stop()
        if self.smtp is not None:
            self.smtp.stop()
        if self.stripe is not None:
            self.stripe.stop()
        with contextlib.suppress(psycopg.Error):
            database_drop(self.db_url)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def environment(self, *, redis_url: str, smtp_port: int) -> dict:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.product.settings",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.db_url,
            "CELERY_BROKER_URL": f"{redis_url}/0",
            "CACHE_URL": f"{redis_url}/1",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_ALLOW_TEST_KEYS": "1",
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "STRIPE_API_BASE": self.stripe.url,
            "SMOSITE_VAR_DIR": str(self.tmp / "var"),
            "SITE_URL": self.base,
            "TRUSTED_PROXY_COUNT": "1",  # each simulated visitor may have its own address
            "LOG_LEVEL": "WARNING",
            **({"DOWNLOAD_ACCEL_REDIRECT": NGINX_PRIVATE} if self.nginx else {}),
            **self.extra_env,
        }

    def manage(self, *command: str, capture: bool = False, env: dict | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout if capture else ""

    def shell(self, code: str) -> str:
        """Runs Python in the site's settings (a fresh process) and returns what it prints."""
        return self.manage("shell", "-c", code, capture=True)

    def worker_start(self) -> None:
        self.processes.start(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "smosite",
                "worker",
                "-Q",
                QUEUES,
                "--concurrency",
                str(self.worker_concurrency),
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            env=self.env,
        )

    def web_start(self) -> None:
        gunicorn_start(self.processes, "bench.product.wsgi", self.web, self.env, self.web_workers)
        if self.nginx:
            gunicorn_start(
                self.processes,
                "bench.product.wsgi",
                self.downloads,
                self.env,
                self.download_workers,
            )
            nginx_start(self)

    def seed(self) -> None:
        self.manage("load_seed_report")


def gunicorn_command(module: str, bind: list[str], workers: int) -> list[str]:
    """The same command for the site and for the bare baseline: sync workers, and
    ./gunicorn.conf.py, which gunicorn reads by itself, as production does (its access log
    included)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        module,
        *bind,
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


def gunicorn_start(processes: Processes, module: str, reserved: Reserved, env: dict, workers: int):
    """gunicorn on the reserved port's socket (it inherits it: no moment when another
    server could take the port)."""
    bind, fds = reserved.gunicorn_bind()
    process = processes.start(gunicorn_command(module, bind, workers), env=env, pass_fds=fds)
    port = reserved.release()

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {module} exited (see var/bench/)")
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code < 500
        return False

    wait_for(answers, timeout=60, message=f"gunicorn {module} did not start (see var/bench/)")


NGINX_PRIVATE = "/_private/"
NGINX_CONF = """
daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location {private} {{
            internal;
            alias {var}/private/;
        }}
        location /download/ {{
            proxy_pass http://127.0.0.1:{download_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{web_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""


def nginx_start(site: "Site") -> None:
    """nginx in front of the site as docs/deploy.md sets it up: pages go to the web pool,
    /download/ to a pool of its own (a buyer's downloads never queue landing pages behind
    them), and a counted download is sent from private storage by nginx (X-Accel-Redirect)."""
    prefix = site.tmp / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            prefix=prefix,
            port=site.port,
            web_port=site.web_port,
            download_port=site.download_port,
            private=NGINX_PRIVATE,
            var=site.tmp / "var",
            # As root, nginx's workers would run as nobody, who can't read the benchmark's
            # private temporary folder; the benchmark's own user can.
            user=f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.getuid() == 0 else "",
        )
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    site.front.release()  # nginx binds it right away
    process = site.processes.start(
        [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    )

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited (see {prefix}/error.log)")
        with contextlib.suppress(requests.RequestException):
            return requests.get(site.base, timeout=2).status_code < 500
        return False

    wait_for(answers, timeout=20, message=f"nginx did not start (see {prefix}/error.log)")


# --- wrk ---------------------------------------------------------------------------------

WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * WRK_UNITS[unit]


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    script: str | None = None,
    headers: dict | None = None,
) -> dict:
    """wrk's figures: requests per second, p50 and p99 latency (ms), errors (non-2xx/3xx
    answers and socket errors)."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", script]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])
    requests_done = int(re.search(r"(\d+) requests in", output)[1])
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests": requests_done,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
        "socket_errors": socket_errors[1] if socket_errors else "",
        "raw": output,
    }

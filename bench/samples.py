"""Benchmark: a sample request from the POST to the email with its stamped PDF in an SMTP server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \\
    CACHE_URL=redis://127.0.0.1:6379/6 .venv/bin/python -m bench.samples [--latency 30] [--burst 1000]

It runs the real parts on this machine: a fresh PostgreSQL database (<name>_bench, dropped at
the end), gunicorn serving the site, a Celery worker consuming every queue, and an aiosmtpd
server in this process that timestamps each message as it arrives. The broker's and the cache's
Redis databases are emptied first: point them at databases of your own.

1. Latency: one request at a time with a warm worker, POST sent → message received; median, p95.
2. Burst: N requests from N different addresses (and networks, via X-Forwarded-For) posted by
   concurrent clients; time from the first POST to the last message, then every message is
   checked: exactly one per address, its PDF stamped with that person's name on every page.

Figures go to stdout and var/bench/samples.json. This is a script, not a timed test.
"""

import argparse
import email
import email.policy
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import requests
from aiosmtpd.controller import Controller
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
REPORT_NUMBER = 1780960
QUEUES = "default,pdf,mail,payments"


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
            found = self.arrivals.get(address)
            return found[0][0] if found else None


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench"
    return urlunsplit(parts._replace(path="/" + name)), name


def recreate_database(url: str, name: str) -> None:
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str, name: str) -> None:
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Site:
    """gunicorn + a Celery worker on the bench database, mail to the in-process SMTP server."""

    def __init__(self, *, args, db_url: str, smtp_port: int):
        self.args = args
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = db_url
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smosite.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": db_url,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "SMOSITE_VAR_DIR": str(VAR),
            "SITE_URL": self.base,
            "TRUSTED_PROXY_COUNT": "1",  # each simulated visitor has its own address
            "LOG_LEVEL": "WARNING",
        }
        self.processes: list[subprocess.Popen] = []

    def manage(self, *command: str) -> None:
        subprocess.run([sys.executable, "manage.py", *command], env=self.env, cwd=ROOT, check=True)

    def start(self) -> None:
        VAR.mkdir(parents=True, exist_ok=True)
        log = open(VAR / "processes.log", "wb")  # noqa: SIM115 - lives as long as the run
        worker = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smosite",
            "worker",
            "-Q",
            QUEUES,
            "--concurrency",
            str(self.args.worker_concurrency),
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ]
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "smosite.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.args.web_workers),
            "--log-level",
            "warning",
        ]
        for command in (worker, web):
            self.processes.append(
                subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start; see var/bench/processes.log")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def sample_render_seconds(db_url: str) -> float | None:
    """How long the worker took to render the base sample (for the first request's wait)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT render_seconds FROM reports_reportdocument WHERE kind = 'sample' "
            "AND status = 'ready' ORDER BY id LIMIT 1"
        ).fetchone()
    return row[0] if row else None


class Visitor:
    """One browser session: the form's CSRF token and signed start time, reused per POST."""

    def __init__(self, site: Site):
        self.url = f"{site.base}/enquiry/request-sample/{REPORT_NUMBER}"
        self.local = threading.local()
        page = requests.get(self.url + "?utm_source=bench&utm_campaign=samples", timeout=10)
        self.cookies = page.cookies
        self.csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        self.started = re.search(r'name="form_started" value="([^"]+)"', page.text)[1]

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.cookies.update(self.cookies)
        return self.local.session

    def post(self, n: int, *, address: str, name: str, company: str) -> int:
        response = self.session().post(
            self.url,
            data={
                "csrfmiddlewaretoken": self.csrf,
                "form_started": self.started,
                "name": name,
                "email": address,
                "company": company,
                "job_title": "Head of Clinical Operations",
                "country": "DE",
                "consent": "on",
            },
            headers={
                "Referer": self.url,
                "X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
            },
            allow_redirects=False,
            timeout=60,
        )
        accepted = response.status_code == 302 and "/thank-you/" in response.headers["Location"]
        return 302 if accepted else response.status_code


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_latency(visitor: Visitor, inbox: Inbox, count: int, tag: str) -> list[float]:
    latencies = []
    for n in range(count):
        address = f"latency{n}@{tag}.example"
        started = time.perf_counter()
        assert visitor.post(n, address=address, name=f"Latency {n}", company="Bench") == 302
        deadline = time.monotonic() + 60
        while (arrived := inbox.first_arrival(address)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no email for {address}")
            time.sleep(0.005)
        latencies.append(arrived - started)
        time.sleep(0.3)  # one visitor at a time, the worker idle in between
    return latencies


def burst_person(n: int) -> tuple[str, str, str]:
    return f"burst{n}@company{n}.example", f"Burst Person {n}", f"Company {n}"


def run_burst(visitor: Visitor, inbox: Inbox, count: int, clients: int, offset: int) -> dict:
    started = time.perf_counter()

    def post(n):
        address, name, company = burst_person(n)
        return visitor.post(offset + n, address=address, name=name, company=company)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(pool.map(post, range(count)))
    posted = time.perf_counter() - started
    addresses = [burst_person(n)[0] for n in range(count)]
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if all(inbox.first_arrival(a) is not None for a in addresses):
            break
        time.sleep(0.2)
    arrivals = [inbox.first_arrival(a) for a in addresses]
    delivered = [t for t in arrivals if t is not None]
    drained = (max(delivered) - started) if len(delivered) == count else None
    time.sleep(10)  # late duplicates would arrive now
    return {
        "requests": count,
        "clients": clients,
        "accepted": statuses.count(302),
        "statuses": {str(s): statuses.count(s) for s in set(statuses)},
        "all_posted_seconds": round(posted, 2),
        "delivered": len(delivered),
        "drained_seconds": round(drained, 2) if drained else None,
    }


def verify_burst(inbox: Inbox, count: int) -> dict:
    """Exactly one message per address, each PDF stamped with its own name on every page."""
    duplicates = missing = wrong_stamp = 0
    pages_checked = 0
    for n in range(count):
        address, name, company = burst_person(n)
        messages = inbox.arrivals.get(address, [])
        duplicates += max(0, len(messages) - 1)
        if not messages:
            missing += 1
            continue
        message = email.message_from_bytes(messages[0][1], policy=email.policy.default)
        pdf = next(
            p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"
        )
        stamp = f"Prepared for {name}, {company}"
        for page in PdfReader(io.BytesIO(pdf.get_content())).pages:
            pages_checked += 1
            if stamp not in " ".join((page.extract_text() or "").split()):
                wrong_stamp += 1
    return {
        "duplicates": duplicates,
        "missing": missing,
        "pages_checked": pages_checked,
        "pages_without_own_stamp": wrong_stamp,
    }


def database_check(db_url: str) -> dict:
    with psycopg.connect(db_url) as conn:
        requests_by_status = dict(
            conn.execute(
                "SELECT status, count(*) FROM enquiries_samplerequest GROUP BY status"
            ).fetchall()
        )
        emails_by_status = dict(
            conn.execute(
                "SELECT status, count(*) FROM enquiries_outboundemail GROUP BY status"
            ).fetchall()
        )
    return {"sample_requests": requests_by_status, "emails": emails_by_status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=30, help="single requests to time")
    parser.add_argument("--burst", type=int, default=1000, help="burst size (0: skip)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent posting clients")
    parser.add_argument("--web-workers", type=int, default=2)
    # 3 prefork processes on 2 cores: the third stamps while the others wait on PostgreSQL,
    # the broker or SMTP (200-burst: 10.6 s drained vs 13.5 s with 2; docs/benchmarks.md).
    parser.add_argument("--worker-concurrency", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        if not os.environ.get(name):
            sys.exit(f"{name} must be set (PostgreSQL, and Redis databases of your own)")
    db_url, db_name = bench_database_url(os.environ["DATABASE_URL"])
    recreate_database(db_url, db_name)
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        redis.Redis.from_url(os.environ[name]).flushdb()

    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    site = Site(args=args, db_url=db_url, smtp_port=smtp_port)
    results = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}}
    try:
        site.manage("migrate", "--noinput", "-v0")
        site.start()
        site.manage("load_seed_report")  # renders nothing: PDFs are rendered on first need
        visitor = Visitor(site)
        time.sleep(4)  # FORM_MIN_FILL_SECONDS: the form has been open long enough
        # The first request finds no base sample: it waits for the render, then the stamp.
        (first,) = run_latency(visitor, inbox, 1, "first")
        results["first_request"] = {
            "seconds": round(first, 3),
            "sample_render_seconds": sample_render_seconds(db_url),
        }
        print(json.dumps(results["first_request"]), flush=True)
        run_latency(visitor, inbox, 3, "warmup")
        latencies = run_latency(visitor, inbox, args.latency, "single")
        results["latency"] = {
            "requests": len(latencies),
            "median_seconds": round(statistics.median(latencies), 3),
            "p95_seconds": round(percentile(latencies, 0.95), 3),
            "min_seconds": round(min(latencies), 3),
            "max_seconds": round(max(latencies), 3),
        }
        print(json.dumps(results["latency"]), flush=True)
        if args.burst:
            results["burst"] = run_burst(
                inbox=inbox, visitor=visitor, count=args.burst, clients=args.clients, offset=1000
            )
            results["machine"]["load_after_burst"] = os.getloadavg()
            print(json.dumps(results["burst"]), flush=True)
            results["burst"]["verification"] = verify_burst(inbox, args.burst)
        results["database"] = database_check(db_url)
        results["settings"] = vars(args)
    finally:
        site.stop()
        smtp.stop()
        if not args.keep_db:
            drop_database(db_url, db_name)
    (VAR / "samples.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Samples: a sample request from the POST to the email with its stamped PDF in an SMTP server.

    python -m bench.samples [--quick] [--latency 30] [--burst 1000]

It runs the real parts on this machine (bench/stack.py): a fresh PostgreSQL database
(<DATABASE_URL's name>_bench_samples, dropped at the end), a Redis of its own, gunicorn with
production settings, a Celery worker consuming every queue, and an aiosmtpd server in this
process that timestamps each message as it arrives.

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
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests
from pypdf import PdfReader

from bench import stack
from bench.stack import Inbox, Site, percentile

REPORT_NUMBER = stack.REPORT_NUMBER


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
    time.sleep(2 if count < 100 else 10)  # late duplicates would arrive now
    return {
        "requests": count,
        "clients": clients,
        "accepted": statuses.count(302),
        "statuses": {str(s): statuses.count(s) for s in set(statuses)},
        "all_posted_seconds": round(posted, 2),
        "delivered": len(delivered),
        "drained_seconds": round(drained, 2) if drained else None,
    }


def pdf_page_texts(pdf: bytes) -> list[str]:
    """Each page's text, by poppler's pdftotext (pages end with a form feed): some 50 times
    faster than pypdf's extraction, which made checking 9,000 pages take longer than the
    burst itself."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    pages = done.stdout.decode().split("\f")
    expected = len(PdfReader(io.BytesIO(pdf)).pages)
    return pages[:expected] + [""] * (expected - len(pages[:expected]))


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
        for text in pdf_page_texts(pdf.get_content()):
            pages_checked += 1
            if stamp not in " ".join(text.split()):
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


def sample_render_seconds(site: Site) -> float | None:
    """How long the worker took to render the base sample (what the first request waits
    for, besides its own stamp)."""
    with psycopg.connect(site.db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT render_seconds FROM reports_reportdocument WHERE kind = 'sample' "
            "AND status = 'ready' ORDER BY id LIMIT 1"
        ).fetchone()
    return row[0] if row else None


def worker_profile_start(site: Site):
    """py-spy on the Celery worker and its pool processes (the first process the site
    started after Redis)."""
    import subprocess
    import sys
    from pathlib import Path

    worker = next(p for p in site.processes.started if "celery" in " ".join(p.args))
    out = stack.VAR / "profile-samples-worker.txt"
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(worker.pid)]
    command += ["--subprocesses", "--format", "raw", "--rate", "100", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def worker_profile_stop(spy) -> list:
    import signal

    from bench.profile import summarise

    process, out = spy
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    top = summarise(out.read_text(), 60)
    for share, name in top:
        print(f"{share:5.1f}%  {name}")
    return top


def rows_from(results: dict) -> list[dict]:
    latency = results["latency"]
    first = results["first_request"]
    render = first["sample_render_seconds"]
    rows = [
        stack.row(
            "Samples",
            "First request of a report (its base sample rendered on first need)",
            f"{first['seconds']:.2f} s (the render itself "
            + (f"{render:.2f} s)" if render is not None else "not recorded)"),
            "one render and a stamp",
        ),
        stack.row(
            "Samples",
            f"POST → email with PDF, one visitor at a time ({latency['requests']})",
            f"median {latency['median_seconds']:.3f} s, p95 {latency['p95_seconds']:.3f} s",
            "median ≤ 1.5 s",
        ),
    ]
    burst = results.get("burst")
    if burst:
        checked = burst["verification"]
        drained = burst["drained_seconds"]
        rate = f"{burst['requests'] / drained:.1f}/s" if drained else "not drained"
        rows += [
            stack.row(
                "Samples",
                f"Burst of {burst['requests']:,} from {burst['requests']:,} addresses: drained",
                f"{drained} s ({rate}; {burst['accepted']:,} accepted, posted in "
                f"{burst['all_posted_seconds']} s)",
                "≤ 30 s for 1,000",
            ),
            stack.row(
                "Samples",
                "Burst: duplicates, lost",
                f"{checked['duplicates']} duplicates, {checked['missing']} lost",
                "0, 0",
            ),
            stack.row(
                "Samples",
                "Burst: pages carrying the recipient's own name",
                f"{checked['pages_checked'] - checked['pages_without_own_stamp']:,} of "
                f"{checked['pages_checked']:,}",
                "all",
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 single requests, no warm-up, a burst of 20"
    )
    parser.add_argument("--latency", type=int, default=30, help="single requests to time")
    parser.add_argument(
        "--warmup", type=int, default=3, help="single requests before those timed (untimed)"
    )
    parser.add_argument("--burst", type=int, default=1000, help="burst size (0: skip)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent posting clients")
    parser.add_argument("--web-workers", type=int, default=2)
    # 3 prefork processes on 2 cores: the third stamps while the others wait on PostgreSQL,
    # the broker or SMTP (200-burst: 10.6 s drained vs 13.5 s with 2; docs/benchmarks.md).
    parser.add_argument("--worker-concurrency", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the Celery worker during the burst"
    )
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the site (comparisons)"
    )
    args = parser.parse_args()
    if args.quick:
        # The quick run shows every part works; warm-up requests only steady a full run's
        # figures (the first request has already warmed the worker).
        args.latency, args.burst, args.warmup = 3, 20, 0

    results = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}}
    site = Site(
        "samples",
        web_workers=args.web_workers,
        worker_concurrency=args.worker_concurrency,
        extra_env={"FORM_MIN_FILL_SECONDS": "1", **dict(e.split("=", 1) for e in args.env)},
    )
    with site:
        inbox = site.inbox
        site.seed()  # renders nothing: PDFs are rendered on first need
        visitor = Visitor(site)
        time.sleep(1.5)  # FORM_MIN_FILL_SECONDS: the form has been open long enough
        # The first request finds no base sample: it waits for that render, then its stamp.
        (first,) = run_latency(visitor, inbox, 1, "first")
        results["first_request"] = {
            "seconds": round(first, 3),
            "sample_render_seconds": sample_render_seconds(site),
        }
        print(json.dumps(results["first_request"]), flush=True)
        run_latency(visitor, inbox, args.warmup, "warmup")
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
            spy = worker_profile_start(site) if args.profile else None
            results["burst"] = run_burst(
                inbox=inbox, visitor=visitor, count=args.burst, clients=args.clients, offset=1000
            )
            if spy:
                results["profile"] = worker_profile_stop(spy)
            results["machine"]["load_after_burst"] = os.getloadavg()
            print(json.dumps(results["burst"]), flush=True)
            results["burst"]["verification"] = verify_burst(inbox, args.burst)
        results["database"] = database_check(site.db_url)
        results["settings"] = vars(args)
    stack.write_rows("samples", rows_from(results), **results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Catalogue benchmark: bulk import, search, report page and sitemaps at 100,000 reports.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb .venv/bin/python -m bench.catalogue [--quick]

Real parts on this machine: two PostgreSQL databases of its own (<name>_catalogue with the
generated catalogue and the seed report, <name>_catalogue_one with the seed report alone;
dropped at the end unless --keep-db), gunicorn with production settings serving each, and
wrk (Debian's; `make bench` installs it) as the client, and a redis-server of its own for the
cache.

1. Import: `manage.py make_demo_catalogue --output` writes N generated reports as JSON
   Lines (not timed), then `manage.py import_reports` imports them into the big database in
   a child process: wall time, and its resident memory sampled every half second (peak, and
   a quarter of the way through the run, to show it stays flat).
2. Search at 16 connections (wrk, --latency): a common word, a rare word, a typo and a facet
   combination; p50/p99. Each twice: computed on every request (the site started with
   CATALOGUE_SEARCH_CACHE_SECONDS=0 and PAGE_CACHE_SECONDS=0: the database's real cost; the
   category list beside every search, counted over the whole catalogue, stays cached as in
   production, CATALOGUE_COUNTS_CACHE_SECONDS) and with the caches on (the default: what a
   popular search costs). Then the same search over one connection: the request's own time
   (computed on every request, its goal is p50 ≤ 100 ms and p99 ≤ 150 ms whatever the word:
   counts beyond CATALOGUE_SEARCH_EXACT_COUNT matches are estimated, reports/search/).
   Then the results page rendered on every request from cached figures (page cache off:
   the floor under any search computed per request), and the four searches with the caches
   on while a report is saved every CHURN_SECONDS (bench/churn.py: every save makes every
   cached search and page stale).
3. The seed report's page at 16 connections on both databases: requests/s, and the ratio
   of 100,000 reports to one report (measured in the same run).
4. /sitemap.xml (an index at 100,000 reports) and its first reports file: seconds per
   request (median of 5, one at a time).

Rows go to stdout and var/bench/catalogue.json as {"section", "measure", "value", "goal"}.
--quick: 300 reports, one-second wrk runs, the search cache on only: a smoke test.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from bench import stack

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
RUN_DIR = VAR / "catalogue"
SEED_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"
SEARCHES = {
    # Words from the demo catalogue's vocabulary (reports/demo/vocabulary.py).
    "common word": "/?q=industrial",
    "rare word": "/?q=hypersonic",
    "typo": "/?q=semiconductr",
    "facet combination": "/?q=sensor&category=semiconductors-and-electronics"
    "&region=Europe&status=published",
}
CHURN_SECONDS = 2.0  # a report saved this often during the "catalogue being edited" runs
GOALS = {
    "import": "< 300 s",
    "search_p99": "≤ 50 ms",
    # A search computed on every request, alone: whatever the word (issue #27).
    "search_alone": "p50 ≤ 100 ms, p99 ≤ 150 ms",
    "ratio": "≥ 0.95",
    "sitemap": "< 1 s",
}


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def admin_execute(url: str, *statements: str) -> None:
    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


class Bench:
    def __init__(self, args):
        self.args = args
        base = os.environ["DATABASE_URL"]
        name = urlsplit(base).path.lstrip("/")
        self.big_name, self.one_name = f"{name}_catalogue", f"{name}_catalogue_one"
        self.big_url = database_url(base, self.big_name)
        self.one_url = database_url(base, self.one_name)
        self.rows: list[dict] = []
        self.processes: list[subprocess.Popen] = []

    # --- Helpers ----------------------------------------------------------------------------

    def env(self, db_url: str, **extra) -> dict:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smosite.settings.production",
            "DJANGO_SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": db_url,
            "EMAIL_URL": "smtp://127.0.0.1:25",
            "STRIPE_SECRET_KEY": "sk_live_bench_not_used",
            "STRIPE_WEBHOOK_SECRET": "whsec_bench_not_used",
            "SECURE_SSL_REDIRECT": "false",
            "SMOSITE_VAR_DIR": str(RUN_DIR),
            "SITE_URL": "http://127.0.0.1",
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    def manage(self, db_url: str, *command: str, **extra) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *command],
            env=self.env(db_url, **extra),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def manage_one(self, *command: str, env: dict | None = None) -> None:
        """manage.py on the one-report database (stack's template and static helpers)."""
        self.manage((env or {}).get("DATABASE_URL", self.one_url), *command)

    def row(self, part: str, measure: str, value, goal: str = "") -> None:
        """One row of make bench's "Catalogue" section; `part` (import, search, page, …)
        starts its measure."""
        self.rows.append(
            {"section": "Catalogue", "measure": f"{part}: {measure}", "value": value, "goal": goal}
        )
        print(f"{part:<10} {measure:<58} {value!s:>14}  {goal}", flush=True)

    # --- 0. Databases -----------------------------------------------------------------------

    def prepare(self) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        for name in (self.big_name, self.one_name):
            admin_execute(self.big_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        stack.migrated_database(self.one_url, self.manage_one)
        self.manage(self.one_url, "load_seed_report")
        # The big database starts as a copy of the one-report database: same seed, same ids.
        admin_execute(self.big_url, f'CREATE DATABASE "{self.big_name}" TEMPLATE "{self.one_name}"')
        stack.collected_static(RUN_DIR, self.manage_one)

    def exists(self) -> bool:
        with psycopg.connect(database_url(self.big_url, "postgres")) as conn:
            names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        return {self.big_name, self.one_name} <= names

    def drop(self) -> None:
        for name in (self.big_name, self.one_name):
            admin_execute(self.big_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- 1. Import --------------------------------------------------------------------------

    def run_import(self) -> None:
        count = self.args.count
        path = RUN_DIR / f"catalogue-{count}.jsonl"
        if not path.exists():
            self.manage(
                self.big_url, "make_demo_catalogue", "--count", str(count), "--output", str(path)
            )
        command = [sys.executable, "manage.py", "import_reports", str(path), "--progress", "never"]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=self.env(self.big_url), cwd=ROOT, stdout=subprocess.DEVNULL
        )
        samples = sample_rss(process)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"import_reports exited with {process.returncode}")
        peak = max(samples, default=0)
        # Memory a quarter of the way through the run: flat memory means about the peak.
        early = samples[len(samples) // 4] if samples else 0
        self.row("import", f"import {count:,} reports (wall)", f"{seconds:.1f} s", GOALS["import"])
        self.row("import", "reports per second", round(count / seconds))
        self.row("import", "peak RSS of import_reports", f"{peak / 1024:.0f} MiB")
        self.row(
            "import", "RSS a quarter of the way in (flat memory: ≈ peak)", f"{early / 1024:.0f} MiB"
        )
        with psycopg.connect(self.big_url) as conn:
            total = conn.execute("SELECT count(*) FROM reports_report").fetchone()[0]
            drafts = conn.execute(
                "SELECT count(*) FROM reports_report WHERE status = 'draft'"
            ).fetchone()[0]
        admin_vacuum(self.big_url)  # fresh statistics for the planner, as autovacuum would
        self.row("import", "reports in the database (with the seed)", total)
        self.row("import", "drafts (feed's drafts + held by the quality check)", drafts)

    # --- Web --------------------------------------------------------------------------------

    def serve(self, db_url: str, **extra) -> str:
        """Start gunicorn on `db_url`; returns its base URL (see `wait_for`)."""
        reserved = stack.Reserved()
        bind, fds = reserved.gunicorn_bind()
        log = open(RUN_DIR / "gunicorn.log", "ab")  # noqa: SIM115 - lives as long as the run
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "smosite.wsgi",
                *bind,
                "--workers",
                str(self.args.web_workers),
                "--log-level",
                "warning",
            ],
            env=self.env(db_url, **extra),
            cwd=ROOT,
            stdout=log,
            stderr=log,
            pass_fds=fds,
        )
        self.processes.append(process)
        return f"http://127.0.0.1:{reserved.release()}"

    @staticmethod
    def wait_for(*bases: str) -> None:
        # A worker's first page costs it about 1.6 s of CPU (imports, templates), and the
        # servers' 16 workers start at once on two cores: a short timeout gave up on them.
        deadline = time.monotonic() + 300
        for base in bases:
            while True:
                try:
                    if requests.get(base + SEED_URL, timeout=60).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "gunicorn did not start; see var/bench/catalogue/gunicorn.log"
                    )
                time.sleep(0.3)

    def stop_servers(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []

    def run_web(self) -> None:
        """Every server at once (they start in parallel): the big database with the caches
        on and (unless --quick) off, and the one-report database. "Off" is both the search
        cache and the page cache: with the page cache on, every search after the first is a
        stored page whatever the search cache says."""
        cached = self.serve(self.big_url)
        uncached = (
            None
            if self.args.quick
            else self.serve(
                self.big_url, CATALOGUE_SEARCH_CACHE_SECONDS="0", PAGE_CACHE_SECONDS="0"
            )
        )
        rendered = None if self.args.quick else self.serve(self.big_url, PAGE_CACHE_SECONDS="0")
        one = self.serve(self.one_url)
        self.wait_for(*[base for base in (cached, uncached, rendered, one) if base])
        for label, base in (("uncached", uncached), ("cached", cached)):
            if base:
                self.run_search(base, label)
        if not self.args.quick:
            self.run_render_floor(rendered)
            self.run_search_churn(cached)
        self.run_report_page(one=one, big=cached)
        self.run_sitemaps(cached)
        self.stop_servers()

    def run_search(self, base: str, label: str) -> None:
        for name, path in SEARCHES.items():
            started = time.perf_counter()
            check = requests.get(base + path, timeout=60)
            first = time.perf_counter() - started
            check.raise_for_status()
            found = re.search(r"((?:About )?\d[\d,]*) reports? matching", check.text)
            result = wrk(base + path, seconds=self.args.seconds)
            self.row(
                "search",
                f"{name} ({label}) p50 / p99, {found[1] if found else '?'} results, "
                f"{result['requests']} requests",
                f"{result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms",
                GOALS["search_p99"],
            )
            # The 16 connections' last requests are still being answered after wrk stops;
            # one request of our own waits behind them, so the next run starts on an idle site.
            requests.get(base + path, timeout=120).raise_for_status()
            alone = wrk(base + path, seconds=max(1, self.args.seconds // 2), connections=1)
            self.row(
                "search",
                f"{name} ({label}) one connection p50 / p99 (the request's own time)",
                f"{alone['p50_ms']:.1f} / {alone['p99_ms']:.1f} ms, {alone['requests']} requests"
                if alone["requests"]
                else "no request completed",
                GOALS["search_alone"] if label == "uncached" else "",
            )
            if label == "cached":
                self.row(
                    "search",
                    f"{name}: first request (computes the cache)",
                    f"{first * 1000:.0f} ms",
                )

    def run_render_floor(self, base: str) -> None:
        """The results page rendered on every request (page cache off) from a search whose
        figures and ids are all cached: no search statement at all, only the page's own
        work. What any search computed per request costs at least."""
        path = SEARCHES["rare word"]
        requests.get(base + path, timeout=60).raise_for_status()  # the search's figures
        result = wrk(base + path, seconds=self.args.seconds)
        self.row(
            "search",
            "rare word, page rendered per request from cached figures (page cache off) "
            f"p50 / p99, {result['requests']} requests",
            f"{result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms",
        )
        requests.get(base + path, timeout=120).raise_for_status()
        alone = wrk(base + path, seconds=max(1, self.args.seconds // 2), connections=1)
        self.row(
            "search",
            "rare word, page rendered per request: one connection p50 / p99",
            f"{alone['p50_ms']:.1f} / {alone['p99_ms']:.1f} ms, {alone['requests']} requests",
        )

    def run_search_churn(self, base: str) -> None:
        """The caches on while a staff member saves a report every CHURN_SECONDS (bench/churn.py):
        every save makes every cached search and page stale, so this is what visitors see
        on a catalogue that is being edited, not only a search repeated on a still one."""
        churn = subprocess.Popen(
            [sys.executable, "-m", "bench.churn", "--interval", str(CHURN_SECONDS)],
            env=self.env(self.big_url),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if churn.stdout.readline().strip() != "saving":  # Django set up, reports found
                raise RuntimeError(f"bench.churn did not start (exit code {churn.wait()})")
            for name, path in SEARCHES.items():
                result = wrk(base + path, seconds=self.args.seconds)
                self.row(
                    "search",
                    f"{name}, a report saved every {CHURN_SECONDS:g} s (cached) p50 / p99, "
                    f"{result['requests']} requests",
                    f"{result['p50_ms']:.1f} / {result['p99_ms']:.1f} ms",
                    GOALS["search_p99"],
                )
        finally:
            churn.terminate()
            saves, _ = churn.communicate(timeout=30)
        self.row("search", "reports saved during those runs", saves.strip())
        if not saves.strip().split()[0].isdigit() or int(saves.split()[0]) == 0:
            raise RuntimeError(f"bench.churn saved nothing: {saves!r}")

    def run_report_page(self, *, one: str, big: str) -> None:
        rates = {}
        big_label = f"{self.args.count:,} reports"
        for label, base in (("1 report", one), (big_label, big)):
            rates[label] = wrk(base + SEED_URL, seconds=self.args.seconds)["rps"]
            self.row("page", f"report page, catalogue of {label}", f"{rates[label]:.0f} req/s")
        ratio = rates[big_label] / rates["1 report"]
        self.row(
            "page", f"throughput ratio, {big_label} ÷ 1 report", round(ratio, 3), GOALS["ratio"]
        )

    def run_sitemaps(self, base: str) -> None:
        index = timed_get(base + "/sitemap.xml")
        files = re.findall(r"<loc>([^<]+)</loc>", index["body"])
        kind = f"index of {len(files)} files" if "<sitemapindex" in index["body"] else "one file"
        self.row("sitemap", f"/sitemap.xml ({kind})", f"{index['median']:.3f} s", GOALS["sitemap"])
        reports_file = next((f for f in files if "reports-1" in f), None)
        if reports_file:
            path = urlsplit(reports_file).path
            first = timed_get(base + path)
            urls = first["body"].count("<url>")
            self.row(
                "sitemap", f"{path} ({urls:,} URLs)", f"{first['median']:.3f} s", GOALS["sitemap"]
            )


def admin_vacuum(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def sample_rss(process: subprocess.Popen) -> list[int]:
    """The child's resident memory (KiB) every half second until it exits."""
    samples = []
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
        except OSError:
            match = None
        if match:
            samples.append(int(match[1]))
        time.sleep(0.5)
    return samples


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(url: str, *, seconds: int, connections: int = 16) -> dict:
    """wrk's latency percentiles (ms) and requests per second; fails on non-2xx answers."""
    output = subprocess.run(
        [
            "wrk",
            *("-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s"),
            *("--timeout", "60s", "--latency", url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk got error answers from {url}:\n{output}")
    if "Socket errors" in output:
        print(f"  wrk: {output.split('Socket errors:')[1].splitlines()[0].strip()}", flush=True)

    def percentile(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M).groups()
        return float(value) * UNITS[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    requests_done = int(re.search(r"(\d+) requests in", output)[1])
    return {
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "rps": rps,
        "requests": requests_done,
    }


def timed_get(url: str, runs: int = 5) -> dict:
    times, body = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        response = requests.get(url, timeout=60)
        response.raise_for_status()
        times.append(time.perf_counter() - started)
        body = response.text
    return {"median": statistics.median(times), "body": body}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 reports, 1 s runs")
    parser.add_argument("--count", type=int, help="reports to import (default 100,000)")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 10)")
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (default 4, quick 2)")
    parser.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use the databases a --keep-db run kept (no import)"
    )
    args = parser.parse_args()
    args.count = args.count or (300 if args.quick else 100_000)
    args.seconds = args.seconds or (1 if args.quick else 10)
    args.web_workers = args.web_workers or (2 if args.quick else 4)
    os.environ.setdefault("DATABASE_URL", stack.DEFAULT_DATABASE_URL)
    # A Redis of the benchmark's own, for the cache and the broker (the shared one is left
    # alone), stopped at the end with everything else it started.
    redis_process = stack.Processes(VAR / "catalogue.processes.log")
    redis_url = stack.redis_start(redis_process, Path(tempfile.mkdtemp(prefix="bench-catalogue-")))
    os.environ["CACHE_URL"], os.environ["CELERY_BROKER_URL"] = f"{redis_url}/1", f"{redis_url}/0"
    bench = Bench(args)
    started = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    try:
        if args.reuse and bench.exists():
            print("reusing the databases of an earlier --keep-db run: import not measured")
        else:
            bench.prepare()
            bench.run_import()
        bench.run_web()
    finally:
        bench.stop_servers()
        redis_process.stop()
        if not args.keep_db:
            bench.drop()
    bench.row("machine", "load average after", round(os.getloadavg()[0], 2))
    bench.row("machine", "benchmark wall time", f"{time.perf_counter() - started:.0f} s")
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "catalogue.json").write_text(json.dumps(bench.rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

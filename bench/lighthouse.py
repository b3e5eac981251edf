"""Lighthouse: the catalogue and the report page as a phone sees them (issue 26).

    python -m bench.lighthouse [--quick] [--runs 3]

Lighthouse 12 (npm, the version bench/lighthouse/package-lock.json pins; `make bench`
installs it) drives Debian's Chromium (/usr/bin/chromium, headless) against the site as
production runs it (gunicorn, production settings, collected and compressed static files,
bench/stack.py) with its mobile preset: a Moto G Power's screen, simulated slow 4G and a
4× slower CPU. Each page is audited `--runs` times (once with --quick) and the median of
each figure is reported: the four category scores, the largest contentful paint, the bytes
transferred and the CSS the page loads before compression. Each page is requested once
before, so Lighthouse gets it as visitors mostly do, from the page cache. Nothing leaves the machine:
Chromium runs with --disable-background-networking, Lighthouse without error reporting,
and a request to anything but the site fails the benchmark. The reports are kept as
var/bench/lighthouse/<page>-<run>.json (open them in the Lighthouse viewer for details)."""

import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

import requests

from bench import stack

SECTION = "Lighthouse"
LIGHTHOUSE = stack.ROOT / "bench" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
# Chromium itself (not the page) looks up Google hosts at start (sign-in, component updates)
# in spite of --disable-background-networking: no name resolves but the site's.
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-background-networking"
    ' --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"'
)
CATEGORIES = {
    "performance": ("performance", 98),
    "accessibility": ("accessibility", 100),
    "best-practices": ("best practices", 100),
    "seo": ("SEO", 100),
}
GOAL_LCP_S = 1.5
GOAL_CSS_KIB = 40
PAGES = [("Catalogue /", "catalogue", "/"), ("Report page", "report", stack.REPORT_PATH)]


def audit(url: str, output: Path) -> dict:
    """One Lighthouse run of `url` (mobile preset), its report written to `output`."""
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} is missing: `make bench` installs it (npm ci).")
    command = [
        str(LIGHTHOUSE),
        url,
        "--only-categories=" + ",".join(CATEGORIES),
        "--form-factor=mobile",
        f"--chrome-flags={CHROME_FLAGS}",
        "--no-enable-error-reporting",
        "--output=json",
        f"--output-path={output}",
        "--quiet",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    for attempt in (1, 2):
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, cwd=stack.ROOT
        )
        if done.returncode == 0:
            return json.loads(output.read_text())
        # Seen once in a dozen runs on a loaded machine: Chromium or the DevTools connection
        # failing; a second run is a new browser. Twice is a failure of the benchmark.
        print(f"lighthouse {url} failed (exit {done.returncode}, attempt {attempt}):")
        print(done.stderr[-3000:], flush=True)
    raise RuntimeError(f"Lighthouse failed twice on {url}; its output is above")


def figures(report: dict, base: str) -> dict:
    """What one report says: scores (0–100), LCP (s), bytes transferred, CSS bytes."""
    if report.get("runtimeError"):
        raise RuntimeError(f"Lighthouse: {report['runtimeError']}")
    audits = report["audits"]
    requests = audits["network-requests"]["details"]["items"]
    away = [r["url"] for r in requests if not r["url"].startswith((base, "data:"))]
    if away:
        raise RuntimeError(f"requests off the site: {away}")
    scores = {key: round(report["categories"][key]["score"] * 100) for key in CATEGORIES}
    return {
        **scores,
        "lcp_s": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "transfer_bytes": audits["total-byte-weight"]["numericValue"],
        "css_bytes": sum(r["resourceSize"] for r in requests if r["resourceType"] == "Stylesheet"),
        "stylesheets": [r["url"] for r in requests if r["resourceType"] == "Stylesheet"],
    }


def rows_for(label: str, runs: list[dict]) -> list[dict]:
    def median(key):
        return statistics.median(run[key] for run in runs)

    rows = [
        stack.row(
            SECTION,
            f"{label}: {name} score",
            f"{median(key):.0f}",
            f"≥ {goal}" if goal < 100 else "100",
        )
        for key, (name, goal) in CATEGORIES.items()
    ]
    css, files = median("css_bytes"), len(runs[0]["stylesheets"])
    return rows + [
        stack.row(
            SECTION,
            f"{label}: largest contentful paint",
            f"{median('lcp_s'):.2f} s",
            f"≤ {GOAL_LCP_S} s",
        ),
        stack.row(
            SECTION, f"{label}: bytes transferred", f"{median('transfer_bytes') / 1024:.1f} KiB"
        ),
        stack.row(
            SECTION,
            f"{label}: CSS before compression",
            f"{css / 1024:.1f} KiB ({css:,.0f} bytes, {files} file{'s' * (files != 1)})",
            f"≤ {GOAL_CSS_KIB} KiB",
        ),
    ]


def run(runs: int) -> tuple[list[dict], dict]:
    out = stack.VAR / "lighthouse"
    out.mkdir(parents=True, exist_ok=True)
    for earlier in out.glob("*.json"):  # only this run's reports
        earlier.unlink()
    details: dict = {"load_before": stack.machine_load(), "runs": runs, "results": {}}
    rows = []
    with stack.Site("lighthouse") as site:
        site.seed()
        for label, name, path in PAGES:
            url = f"{site.base}{path}"
            # As visitors mostly get it: from the page cache (the first render is stored).
            requests.get(url, timeout=30).raise_for_status()
            found = [figures(audit(url, out / f"{name}-{n}.json"), site.base) for n in range(runs)]
            rows += rows_for(label, found)
            details["results"][label] = found
    details["load_after"] = stack.machine_load()
    details["lighthouse"] = json.loads((out / "report-0.json").read_text())["lighthouseVersion"]
    details["chromium"] = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return rows, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of each page (smoke)")
    parser.add_argument("--runs", type=int, default=3, help="runs per page; the median counts")
    args = parser.parse_args()
    rows, details = run(1 if args.quick else args.runs)
    stack.write_rows("lighthouse", rows, **details)
    for line in rows:
        print(f"{line['measure']}: {line['value']} (goal {line['goal'] or '-'})")


if __name__ == "__main__":
    main()

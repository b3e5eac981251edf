"""Pages: requests per second and latency of the site's pages beside a bare Django view.

    python -m bench.pages [--quick] [--seconds 10] [--connections 16]

Both are served by gunicorn with the same flags (2 sync workers): the bare Django project
(bench/bare: no apps, no middleware, `HttpResponse("ok")`) and the site with production
settings (bench/product) on a fresh PostgreSQL database and a Redis of its own. wrk drives
each URL in turn, anonymous visitors without cookies sending a browser's
`Accept-Encoding: gzip, deflate, br`, in one run, so every figure is also a ratio to the bare
view measured minutes apart on the same machine. The report page is measured once more
without that header (wrk's default: the page leaves uncompressed)."""

import argparse
import json

import requests

from bench import stack

SECTION = "Pages"
GOAL_RATIO = 0.5
GOAL_P99_MS = 15.0
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}


def urls(site: stack.Site) -> list[tuple[str, str, str]]:
    """(label, URL, goal) in the order they are measured."""
    goal = f"≥ {GOAL_RATIO}× bare, p99 ≤ {GOAL_P99_MS:.0f} ms"
    return [
        ("The product's empty view (URLconf and middleware)", f"{site.base}/bench/empty", ""),
        ("Catalogue /", f"{site.base}/", goal),
        ("Search /?q=clinical", f"{site.base}/?q=clinical", ""),
        ("Report page", f"{site.base}{stack.REPORT_PATH}", goal),
    ]


def measure(
    url: str, seconds: float, connections: int, headers=BROWSER, *, warm: bool = True
) -> dict:
    """`warm`: a wrk run of up to 2 s first, not counted (a full run's figures are those of
    warm workers). The quick run's figures only show that every page answers: its check
    request alone warms the page (half the quick run's wrk time went to warming)."""
    assert requests.get(url, timeout=10).status_code == 200, url
    if warm:
        stack.wrk(url, seconds=min(2, seconds), connections=connections, headers=headers)
    return stack.wrk(url, seconds=seconds, connections=connections, headers=headers)


def run(seconds: float, connections: int, *, warm: bool = True) -> tuple[list[dict], dict]:
    details: dict = {"load_before": stack.machine_load(), "results": {}}
    with stack.Site("pages") as site:
        site.seed()
        bare_port = stack.Reserved()
        stack.gunicorn_start(site.processes, "bench.bare.wsgi", bare_port, site.env, 2)
        bare = measure(f"http://127.0.0.1:{bare_port.port}/", seconds, connections, warm=warm)
        results = [("Bare Django view (bench/bare)", bare, "")]
        for label, url, goal in urls(site):
            results.append((label, measure(url, seconds, connections, warm=warm), goal))
        report_url = f"{site.base}{stack.REPORT_PATH}"
        plain = measure(report_url, seconds, connections, headers={}, warm=warm)
        results.append(("Report page, client without gzip", plain, ""))
    details["load_after"] = stack.machine_load()
    rows = []
    for label, figures, goal in results:
        ratio = figures["rps"] / bare["rps"]
        errors = figures["non_2xx"] or figures["socket_errors"]
        value = (
            f"{figures['rps']:,.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
            f"p99 {figures['p99_ms']:.1f} ms, {ratio:.2f}× bare"
            + (f" (errors: {errors})" if errors else "")
        )
        rows.append(stack.row(SECTION, label, value, goal))
        details["results"][label] = {k: v for k, v in figures.items() if k != "raw"}
    rows.append(
        stack.row(
            SECTION,
            "Load average before → after",
            f"{details['load_before']} → {details['load_after']}",
        )
    )
    return rows, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 s per URL, no warm-up run (smoke run)"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    rows, details = run(1 if args.quick else args.seconds, args.connections, warm=not args.quick)
    stack.write_rows("pages", rows, **details)
    for line in rows:
        print(f"{line['measure']}: {line['value']}")
    print(json.dumps(details["results"], indent=1))


if __name__ == "__main__":
    main()

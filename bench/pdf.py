"""PDFs: render the seed report once (full and sample), then stamp personal copies.

    python -m bench.pdf [--quick]

It needs nothing running: a throwaway SQLite database and var folder are made in a temporary
directory, and the measurements run in a fresh child process, like a Celery worker would, so
its peak memory (ru_maxrss) is the worker's: Django, WeasyPrint, fonts, the PDFs. The rows go
to var/bench/pdf.json for `python -m bench`."""

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
RUNS = 2 if QUICK else 5
RENDERS = 2 if QUICK else 3  # the first is a fresh process's: the rows take the others
MERGE_RUNS = 1 if QUICK else 3  # a comparison printed beside the table, in no row


def _timed(function, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def _merge_page_stamp(base: bytes, text: str) -> bytes:
    """pypdf's textbook way (merge_page + compress_content_streams on every page), measured
    for comparison with the shared Form XObject that reports/pdf/stamp.py uses. The overlay
    is rendered the same way, so only the placing differs."""
    from pypdf import PdfReader, PdfWriter

    from reports.pdf.fetcher import StaticOnlyURLFetcher
    from reports.pdf.stamp import overlay_render

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    size = writer.pages[0].mediabox
    overlay = overlay_render(
        text=text,
        width=float(size.width),
        height=float(size.height),
        fetcher=StaticOnlyURLFetcher(),
    ).pages[0]
    for page in writer.pages:
        page.merge_page(overlay)
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def child() -> dict:
    """Runs in the worker-like process: everything measured here."""
    import django

    django.setup()
    from reports.models import Report
    from reports.pdf.content import report_content
    from reports.pdf.render import document_render
    from reports.pdf.stamp import pdf_stamp

    content = report_content(report=Report.objects.get(number=1780960))
    figures = {"rss_before_render_mib": _rss_mib()}
    full_times, full = _timed(lambda: document_render(content=content, kind="full"), RENDERS)
    sample_times, sample = _timed(lambda: document_render(content=content, kind="sample"), RENDERS)
    text_full = "Licensed to Acme Pharmaceuticals Ltd — Enterprise — order RR-2025-000123"
    text_sample = "Prepared for Jane O'Neil, Acme Pharmaceuticals Ltd — 3 November 2025"
    stamp_full_times, stamped_full = _timed(
        lambda: pdf_stamp(base=full.pdf, text=text_full, metadata={"/Subject": text_full}), RUNS
    )
    stamp_sample_times, stamped_sample = _timed(
        lambda: pdf_stamp(base=sample.pdf, text=text_sample, metadata={}), RUNS
    )
    merge_times, merged = _timed(lambda: _merge_page_stamp(full.pdf, text_full), MERGE_RUNS)
    figures.update(
        pages_full=full.page_count,
        pages_sample=sample.page_count,
        render_full_s=full_times,
        render_sample_s=sample_times,
        stamp_full_s=stamp_full_times,
        stamp_sample_s=stamp_sample_times,
        base_full_bytes=len(full.pdf),
        base_sample_bytes=len(sample.pdf),
        stamped_full_bytes=len(stamped_full.pdf),
        stamped_sample_bytes=len(stamped_sample.pdf),
        merge_page_full_s=merge_times,
        merge_page_full_bytes=len(merged),
        peak_rss_mib=_rss_mib(),
    )
    return figures


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _prepare(tmp: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smosite.settings.local",
        "SMOSITE_VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "LOG_LEVEL": "WARNING",
    }
    database = tmp / "bench.sqlite3"
    migrated = _migrated_sqlite(env)
    shutil.copyfile(migrated, database)
    _manage(env, "load_seed_report")
    return env


def _manage(env: dict, *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
    )


def _migrated_sqlite(env: dict) -> Path:
    """An empty SQLite database, migrated once per state of the migrations (as the other
    benchmarks' PostgreSQL template, bench/stack.py) and copied: migrating took about a
    quarter of a quick run of this benchmark."""
    from bench import stack

    migrated = stack.VAR / f"pdf-migrated-{stack.source_state()}.sqlite3"
    if not migrated.exists():
        for older in stack.VAR.glob("pdf-migrated-*.sqlite3"):
            older.unlink()
        stack.VAR.mkdir(parents=True, exist_ok=True)
        building = migrated.with_suffix(".building")
        building.unlink(missing_ok=True)
        _manage({**env, "DATABASE_URL": f"sqlite:///{building}"}, "migrate", "--noinput", "-v0")
        building.rename(migrated)  # only a finished migration is ever copied
    return migrated


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report(figures: dict) -> str:
    render_full = _median(figures["render_full_s"][1:])  # warm: a worker renders many reports
    render_sample = _median(figures["render_sample_s"][1:])
    stamp_full = _median(figures["stamp_full_s"])
    stamp_sample = _median(figures["stamp_sample_s"])
    merge_full = _median(figures["merge_page_full_s"])
    full_ratio = figures["stamped_full_bytes"] / figures["base_full_bytes"]
    sample_ratio = figures["stamped_sample_bytes"] / figures["base_sample_bytes"]

    def kib(n):
        return f"{n / 1024:,.0f} KiB"

    rows = [
        (
            "Render full report",
            f"{render_full:.2f} s ({figures['pages_full']} pages; first render in a fresh process {figures['render_full_s'][0]:.2f} s)",
            "",
        ),
        ("Render sample", f"{render_sample:.2f} s ({figures['pages_sample']} pages)", ""),
        ("Stamp full report", f"{stamp_full:.3f} s", ""),
        ("Stamp sample", f"{stamp_sample:.3f} s", ""),
        ("Render ÷ stamp, full report", f"{render_full / stamp_full:.0f}×", "≥ 10×"),
        ("Render ÷ stamp, sample", f"{render_sample / stamp_sample:.0f}×", "≥ 10×"),
        (
            "Stamped ÷ base size, full",
            f"{full_ratio:.2f}× ({kib(figures['stamped_full_bytes'])} vs {kib(figures['base_full_bytes'])})",
            "≤ 1.5×",
        ),
        (
            "Stamped ÷ base size, sample",
            f"{sample_ratio:.2f}× ({kib(figures['stamped_sample_bytes'])} vs {kib(figures['base_sample_bytes'])})",
            "≤ 1.5×",
        ),
        (
            "Worker peak memory (ru_maxrss)",
            f"{figures['peak_rss_mib']:.0f} MiB ({figures['rss_before_render_mib']:.0f} MiB before the first render)",
            "< 300 MB",
        ),
        (
            "For comparison: pypdf merge_page + compress_content_streams, full",
            f"{merge_full:.3f} s, {figures['merge_page_full_bytes'] / figures['base_full_bytes']:.2f}× the base size",
            "",
        ),
    ]
    lines = ["| Measure | Result | Goal |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {goal} |" for name, value, goal in rows]
    return "\n".join(lines)


def rows(figures: dict) -> list[dict]:
    from bench import stack

    render_full = _median(figures["render_full_s"][1:])
    render_sample = _median(figures["render_sample_s"][1:])
    stamp_full = _median(figures["stamp_full_s"])
    stamp_sample = _median(figures["stamp_sample_s"])
    rss = figures["peak_rss_mib"] * 1048576 / 1e6

    def row(measure, value, goal=""):
        return stack.row("PDFs", measure, value, goal)

    return [
        row("Render full report", f"{render_full:.2f} s ({figures['pages_full']} pages)"),
        row("Render sample", f"{render_sample:.2f} s ({figures['pages_sample']} pages)"),
        row("Stamp full report", f"{stamp_full * 1000:.0f} ms"),
        row("Stamp sample", f"{stamp_sample * 1000:.0f} ms"),
        row(
            "Render ÷ stamp, full and sample",
            f"{render_full / stamp_full:.0f}× and {render_sample / stamp_sample:.0f}×",
            "≥ 10×",
        ),
        row(
            "Worker peak memory (ru_maxrss)",
            f"{rss:.0f} MB ({figures['rss_before_render_mib'] * 1048576 / 1e6:.0f} MB before "
            "the first render)",
            "≤ 300 MB",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer renders and stamps")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child()))
        return
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        env = _prepare(Path(tmp))
        output = subprocess.run(
            [sys.executable, "-m", "bench.pdf", "--child"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    print(report(figures))
    from bench import stack

    stack.write_rows("pdf", rows(figures), **figures)


if __name__ == "__main__":
    main()

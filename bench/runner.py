"""`python -m bench [--quick]` (`make bench`): every benchmark module in turn, one table.

Each module runs in a process of its own (`python -m bench.<name> [--quick]`), starts what
it needs on loopback (bench/stack.py) and writes its rows to var/bench/<name>.json as
`{"section", "measure", "value", "goal"}`. This runner gathers them into one table, prints
it and writes docs/benchmarks.md with the machine's description and the date; `--quick` (a
few requests of each, the smoke run inside `make test`) writes var/bench/benchmarks.md
instead, so the documented figures are always those of a full run."""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench import stack

ROOT = stack.ROOT
DOC = ROOT / "docs" / "benchmarks.md"
# In the order they run: the page figures first, on a machine not yet warmed by the rest.
MODULES = [
    ("pages", "Pages"),
    ("lighthouse", "Lighthouse"),
    ("downloads", "Downloads"),
    ("purchases", "Purchases"),
    ("samples", "Samples"),
    ("pdf", "PDFs"),
    ("catalogue", "Catalogue"),
    ("dashboard", "Dashboard"),
]
SECTIONS = [
    "Pages",
    "Lighthouse",
    "Samples",
    "Purchases",
    "PDFs",
    "Downloads",
    "Catalogue",
    "Dashboard",
]


def module_present(name: str) -> bool:
    return importlib.util.find_spec(f"bench.{name}") is not None


def run_module(name: str, quick: bool) -> tuple[list[dict], str]:
    """The module's rows, or none and why."""
    if not module_present(name):
        return [], f"bench/{name}.py is not there yet: skipped"
    result_file = stack.VAR / f"{name}.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
    print(f"== {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, check=False)
    took = time.monotonic() - started
    if done.returncode != 0 or not result_file.exists():
        return [], f"bench.{name} failed (exit {done.returncode}); see its output above"
    return json.loads(result_file.read_text()), f"bench.{name}: {took:.0f} s"


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "memory": f"{memory_kib / 1048576:.0f} GiB",
        "system": f"{platform.system()} {platform.release()}, "
        + _first_line(["cat", "/etc/debian_version"], prefix="Debian "),
        "software": ", ".join(
            [
                f"Python {platform.python_version()}",
                _first_line(["psql", "--version"]),
                _first_line(["redis-server", "--version"]).split(" sha=")[0],
                _first_line(["wrk", "--version"]).split(" [")[0],
                _first_line(["nginx", "-v"]).removeprefix("nginx version: "),
                _first_line(["chromium", "--version"]).split(" built on")[0],
            ]
        ),
    }


def _first_line(command: list[str], prefix: str = "") -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return f"{command[0]} missing"
    return prefix + (done.stdout or done.stderr).strip().splitlines()[0]


def table(rows: list[dict]) -> str:
    lines = ["| Section | Measure | Result | Goal |", "|---|---|---|---|"]
    others = [r["section"] for r in rows if r["section"] not in SECTIONS]
    for section in SECTIONS + list(dict.fromkeys(others)):
        for row in (r for r in rows if r["section"] == section):
            cells = [section, row["measure"], str(row["value"]), row.get("goal", "")]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def document(rows: list[dict], notes: list[str], info: dict, quick: bool) -> str:
    notes_text = "\n".join(f"- {note}" for note in notes)
    template = (Path(__file__).parent / "benchmarks_template.md").read_text()
    return template.format(
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        command="python -m bench --quick" if quick else "make bench",
        table=table(rows),
        notes=notes_text,
        **info,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few requests of each (smoke)")
    parser.add_argument(
        "--only", default="", help="comma-separated modules (default: all that exist)"
    )
    args = parser.parse_args()
    chosen = [name for name, _ in MODULES if not args.only or name in args.only.split(",")]
    info = machine() | {"load_before": stack.machine_load()}
    rows, notes = [], []
    for name in chosen:
        module_rows, note = run_module(name, args.quick)
        rows += module_rows
        notes.append(note)
    info["load_after"] = stack.machine_load()
    text = document(rows, notes, info, args.quick)
    print("\n" + table(rows) + "\n\n" + "\n".join(notes))
    target = stack.VAR / "benchmarks.md" if args.quick else DOC
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"\nWritten to {target.relative_to(ROOT)}")
    if any("failed" in note for note in notes):
        sys.exit(1)

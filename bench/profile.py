"""Where a page's time goes: py-spy samples the gunicorn workers while wrk drives one URL.

    python -m bench.profile /path [/another ...] [--seconds 10] [--top 25]

Prints, per URL, the frames that hold most samples (inclusive, in the site's code and
Django's), from py-spy's collapsed stacks; the raw stacks are kept in var/bench/profile-*.txt
for a flame graph."""

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

from bench import stack


def summarise(collapsed: str, top: int) -> list[tuple[float, str]]:
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stacks, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stacks.split(";"):
            name = re.sub(r" \((.*?):\d+\)$", r" (\1)", frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += int(count)
    return [(100 * n / total, name) for name, n in inclusive.most_common(top)]


def profile(site: stack.Site, path: str, seconds: float, top: int) -> str:
    master = site.processes.started[-1].pid
    out = stack.VAR / f"profile-{re.sub(r'[^a-z0-9]+', '-', path.lower()).strip('-') or 'root'}.txt"
    stack.wrk(site.base + path, seconds=2)
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(master),
            "--subprocesses",
            "--format",
            "raw",
            "--duration",
            str(int(seconds)),
            "--rate",
            "250",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    figures = stack.wrk(site.base + path, seconds=seconds)
    spy.wait(timeout=seconds + 60)
    lines = [f"## {path}: {figures['rps']:,.0f} req/s, p99 {figures['p99_ms']:.1f} ms"]
    lines += [f"{share:5.1f}%  {name}" for share, name in summarise(out.read_text(), top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with stack.Site("profile") as site:
        site.seed()
        for path in args.paths:
            print(profile(site, path, args.seconds, args.top), flush=True)


if __name__ == "__main__":
    main()

"""Looking at a process tree through /proc: what a command started (its descendants, across
the new sessions honcho gives each Procfile line), and whether any of it is still alive."""

import os
from pathlib import Path


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, session id), or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def descendants(root: int) -> dict[int, str]:
    """Every live process below `root` (by parent links), with its command line."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        stat = _stat(pid)
        if stat and stat[0] != "Z":
            children.setdefault(stat[1], []).append(pid)
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = cmdline(child)
            todo.append(child)
    return found


def sessions_of(pids) -> set[int]:
    return {stat[3] for pid in pids if (stat := _stat(pid))}


def alive_in(*, pids, sessions, group: int) -> dict[int, str]:
    """Processes not yet gone (zombies count as gone): any of `pids`, and anything still in
    one of `sessions` or in process group `group` (a child that was reparented or forked
    after we looked)."""
    alive = {}
    for pid in set(_all_pids()) | set(pids):
        stat = _stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        if pid in pids or stat[3] in sessions or stat[2] == group:
            alive[pid] = cmdline(pid)
    return alive

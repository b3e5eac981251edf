"""`python -m smosite.procfile start -f Procfile.dev …`: honcho's own command line, as a
supervisor. `make run` and `make run-prod` start every process of their Procfile through it.

honcho alone stops every process as soon as one exits: a worker that died took the web
server and beat down with it, and the site answered nothing until someone started it again
(issue 20). Here a process that exits on its own is started again after a delay that doubles
with each exit in a row (PROCESS_RESTART_DELAY_SECONDS, at most
PROCESS_RESTART_MAX_DELAY_SECONDS; a process that stayed up longer than that maximum starts
over from the first delay), each restart is logged, and the others keep running. SIGINT or
SIGTERM still stops everything: SIGTERM to each process group, SIGKILL to what is left after
honcho's KILL_WAIT (5 s), and nothing is started again.

honcho writes "SIGINT received" from its signal handler before it tells the processes to stop.
When its output is a pipe whose reader the same Ctrl-C has just ended (`make run | tee run.log`,
a log shipper restarting), that write raises BrokenPipeError, honcho never sends SIGTERM, and
web, worker and beat — each in a session of its own — keep running. Here a write that fails
is dropped instead, so the shutdown always goes on."""

import contextlib
import functools
import importlib
import io
import multiprocessing
import os
import queue
import signal
import sys
import time
from dataclasses import dataclass

import honcho.command
from honcho.command import main as honcho_main
from honcho.manager import KILL_WAIT, SIGNALS, Manager


class ForgivingOutput(io.TextIOBase):
    """A text stream that stops writing (silently) once its destination is gone."""

    def __init__(self, stream):
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
                self.gone = True  # ValueError: the stream was closed
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.gone = True

    def isatty(self) -> bool:
        return not self.gone and self.stream.isatty()

    @property
    def encoding(self):
        return self.stream.encoding


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float
    max_delay: float

    @classmethod
    def from_settings(cls) -> "RestartPolicy":
        """The two settings, read from the settings module the processes will use (without
        configuring Django in this process, and without changing the environment they
        inherit)."""
        name = os.environ.get("DJANGO_SETTINGS_MODULE", "smosite.settings.local")
        settings = importlib.import_module(name)
        return cls(
            settings.PROCESS_RESTART_DELAY_SECONDS, settings.PROCESS_RESTART_MAX_DELAY_SECONDS
        )

    def delay(self, exits_in_a_row: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** max(0, exits_in_a_row - 1))


class SupervisingManager(Manager):
    """honcho's Manager, except that a process that exits while nobody asked for a stop is
    started again (see the module's docstring) instead of stopping all the others."""

    def __init__(self, *args, policy: RestartPolicy, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy

    def loop(self):
        def _terminate(signum, frame):
            self._system_print(f"{SIGNALS[signum]['name']} received\n")
            self.returncode = SIGNALS[signum]["rc"]
            self.terminate()

        signal.signal(signal.SIGTERM, _terminate)
        signal.signal(signal.SIGINT, _terminate)
        for process in self._processes.values():
            process["pid"] = None
        self._start()
        stopping_since = killed = None
        while True:
            with contextlib.suppress(queue.Empty):
                self._handle(self.events.get(timeout=0.1))
            if not self._terminating:
                self._start_due()
                continue
            stopping_since = stopping_since or time.monotonic()
            if self._all_stopped():
                break
            if not killed and time.monotonic() - stopping_since > KILL_WAIT:
                killed = True
                self.kill()

    def _handle(self, message) -> None:
        if message.type == "line":
            self._printer.write(message)
            return
        process = self._processes[message.name]
        if message.type == "start":
            process["pid"] = message.data["pid"]
            process["started_at"] = time.monotonic()
            self._system_print(f"{message.name} started (pid={process['pid']})\n")
            if self._terminating:  # started again just as the stop was asked for
                self._signal(message.name, process, force=False)
        elif message.type == "stop":
            process["returncode"] = message.data["returncode"]
            self._system_print(f"{message.name} stopped (rc={process['returncode']})\n")
            if not self._terminating:
                self._schedule_restart(message.name, process)

    def _schedule_restart(self, name: str, process: dict) -> None:
        ran = time.monotonic() - process.get("started_at", time.monotonic())
        exits = 1 if ran > self.policy.max_delay else process.get("exits_in_a_row", 0) + 1
        delay = self.policy.delay(exits)
        process["exits_in_a_row"] = exits
        process["restart_at"] = time.monotonic() + delay
        self._system_print(
            f"{name} exited after {ran:.1f} s while the others run; starting it again in "
            f"{delay:g} s (exit {exits} in a row)\n"
        )

    def _start_due(self) -> None:
        now = time.monotonic()
        for name, process in self._processes.items():
            if process.get("restart_at") is not None and process["restart_at"] <= now:
                self._start_one(name, process)

    def _start_one(self, name: str, process: dict) -> None:
        process["process"].join(timeout=1)  # its relay has sent "stop"; it ends right after
        process["restart_at"] = process["pid"] = None
        del process["returncode"]
        process["process"] = multiprocessing.Process(
            name=name, target=process["obj"].run, args=(self.events, True)
        )
        process["process"].start()

    def _killall(self, force=False):
        """honcho's, for the processes running now: one waiting for its restart has stopped
        already, and one being started again has no pid yet (it is stopped as soon as its
        "start" arrives)."""
        for name, process in self._processes.items():
            if "returncode" not in process and process.get("pid"):
                self._signal(name, process, force=force)

    def _signal(self, name: str, process: dict, *, force: bool) -> None:
        self._system_print(
            f"sending {'SIGKILL' if force else 'SIGTERM'} to {name} (pid {process['pid']})\n"
        )
        (self._procmgr.kill if force else self._procmgr.terminate)(process["pid"])

    def _all_stopped(self) -> bool:
        return all("returncode" in process for process in self._processes.values())


def main(argv: list[str] | None = None) -> None:
    sys.stdout = ForgivingOutput(sys.stdout)
    sys.stderr = ForgivingOutput(sys.stderr)
    honcho.command.Manager = functools.partial(
        SupervisingManager, policy=RestartPolicy.from_settings()
    )
    honcho_main(argv)


if __name__ == "__main__":
    main()

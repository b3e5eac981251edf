"""Processes started as a supervisor, a container or CI starts them: `make <target>`, or
`python -m smosite.procfile start` (what both make targets exec), in a new session and
process group, without a terminal; and their stop by one signal to that group, after which
every process they started, in any session, must be gone within STOP_WITHIN_SECONDS."""

import contextlib
import os
import signal
import subprocess
import sys
import urllib.request

from django.conf import settings

from .processes import alive_in, descendants, sessions_of
from .waiting import wait_until

STOP_WITHIN_SECONDS = 10
# What the test session's environment must not hand to `make run` (it runs on its embedded
# defaults) and that make itself sets for sub-makes.
NOT_INHERITED = {
    "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE", "EMAIL_URL",
    "SITE_URL", "PRIVATE_STORAGE_URL", "LOG_FORMAT", "SMOSITE_VAR_DIR", "PORT",
    "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES",
}  # fmt: skip


class MakeRun:
    """`make <target>` in its own session (so its pid is its process group id), no terminal."""

    def __init__(self, target: str, *, env: dict[str, str], log_path, piped: bool = False):
        self.target = target
        self.log_path = log_path
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | env
        self.piped = piped
        self.process = None

    def start(self) -> "MakeRun":
        """With `piped`, the output goes through `cat` in the same process group, as in
        `make run | tee run.log`: the signal that stops make stops its reader too."""
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = ["make", "--no-print-directory", self.target]
        if self.piped:
            command = ["bash", "-c", f"make --no-print-directory {self.target} | cat"]
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def get(self, path: str, headers=None):
        url = f"http://127.0.0.1:{self.env['PORT']}{path}"
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()
        except OSError:
            return None, {}, b""

    def wait_answering(self, timeout: float = 240):
        def healthy():
            if self.process.poll() is not None:
                raise AssertionError(f"make {self.target} exited:\n{self.tail()}")
            return self.get("/healthz")[0] == 200

        wait_until(healthy, timeout=timeout, interval=0.5, message=self.tail())

    def stop_with(self, signum) -> None:
        """Signal the whole process group, as a supervisor does, then require every process
        `make` started, in any session, to be gone within STOP_WITHIN_SECONDS."""
        tree = descendants(self.process.pid)
        pids = {self.process.pid, *tree}
        sessions = sessions_of(pids)
        with contextlib.suppress(ProcessLookupError):  # make already gone: check the rest
            os.killpg(self.process.pid, signum)

        def all_gone():
            self.process.poll()  # reap make itself
            return not alive_in(pids=pids, sessions=sessions, group=self.process.pid)

        try:
            wait_until(
                all_gone,
                timeout=STOP_WITHIN_SECONDS,
                interval=0.2,
                message=f"still running {STOP_WITHIN_SECONDS} s after {signum.name}",
            )
        finally:
            self.kill_leftovers(pids, sessions)
            self.log.close()

    def kill_leftovers(self, pids, sessions):
        for pid in alive_in(pids=pids, sessions=sessions, group=self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=20)


def procfile_processes(tree: dict[int, str]) -> dict[str, int]:
    """How many processes of each kind honcho started (the shell line's own process)."""
    commands = [line for line in tree.values() if not line.startswith(("/bin/sh", "sh "))]
    return {
        "runserver": sum("manage.py runserver" in c for c in commands),
        "gunicorn": sum("gunicorn smosite.wsgi" in c for c in commands),
        "worker": sum(" worker " in c and "celery" in c for c in commands),
        "beat": sum(" beat " in c and "celery" in c for c in commands),
    }


class Supervised(MakeRun):
    """`python -m smosite.procfile start -f <procfile>` (what both make targets exec, with the
    virtualenv's bin first on PATH as `uv run` puts it) in its own session. `app_root`:
    honcho's -d (where it looks for .env); `port`: its -p."""

    def __init__(self, procfile, *, env, log_path, app_root=None, port=None):
        super().__init__("procfile", env=env, log_path=log_path)
        self.procfile = procfile
        self.app_root = app_root
        self.port = port
        bin_dir = os.path.dirname(sys.executable)
        self.env["PATH"] = f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}"

    def start(self) -> "Supervised":
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop_with()
        command = [sys.executable, "-m", "smosite.procfile", "start", "--no-colour",
                   "-f", str(self.procfile)]  # fmt: skip
        command += ["-d", str(self.app_root)] if self.app_root else []
        command += ["-p", str(self.port)] if self.port else []
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=settings.BASE_DIR, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

"""Kinds of job that never succeed, for the fault tests: one raises every time, one kills
its worker process every time. Registered in the test process and in every test worker
(tests/support/worker_hooks.py), so jobs of these kinds are real jobs on real workers."""

import os
import signal

from common import jobs
from contacts.models import Contact

RAISES = "test.poison.raises"
KILLS = "test.poison.kills"


def _raise(*, work):
    raise RuntimeError(f"poison: job {work.job_id} always fails")


def _kill(*, work):
    os.kill(os.getpid(), signal.SIGKILL)


def register() -> None:
    for name, handler in ((RAISES, _raise), (KILLS, _kill)):
        jobs.register(
            name,
            handler=handler,
            model=Contact,
            queue="default",
            max_attempts="JOB_MAX_ATTEMPTS",
            backoff="JOB_RETRY_BACKOFF_SECONDS",
        )

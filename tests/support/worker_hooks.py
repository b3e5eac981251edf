"""Imported into every test worker process (`celery worker --include`).

- The poison kinds of job (tests/support/poison.py) exist in every worker.
- Fault injection for the kill tests: with FAULT_DIR set, a pool process that reaches a stage
  named by a file `FAULT_DIR/block-<stage>` (render, stamp, send) writes its pid to
  `FAULT_DIR/<stage>.pid` and waits there, so the test can SIGKILL it mid-stage. The file is
  removed by the test before the job runs again."""

import os
import time
from pathlib import Path

from celery.signals import worker_init, worker_process_init


@worker_init.connect
def register_poison_kinds(**kwargs):
    from tests.support import poison

    poison.register()


def _blocking(stage: str, function):
    folder = Path(os.environ["FAULT_DIR"])

    def wrapper(*args, **kwargs):
        if (folder / f"block-{stage}").exists():
            (folder / f"{stage}.pid").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while (folder / f"block-{stage}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return function(*args, **kwargs)

    return wrapper


@worker_process_init.connect
def install_fault_points(**kwargs):
    if not os.environ.get("FAULT_DIR"):
        return
    import smtplib

    from reports.services import documents

    documents.document_render = _blocking("render", documents.document_render)
    documents.pdf_stamp = _blocking("stamp", documents.pdf_stamp)
    # Before the message is handed over: whatever mail backend is configured.
    smtplib.SMTP.sendmail = _blocking("send", smtplib.SMTP.sendmail)

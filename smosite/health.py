"""What /healthz checks: the database, the broker, the cache and the private storage.

Each probe runs in its own thread and gets HEALTHZ_TIMEOUT_SECONDS; the probes run side by
side, so the answer comes within about one time limit even when every service hangs. A probe
that hangs is reported as timed out and left to finish (or fail) on its own: a load balancer's
health check must answer, not wait for a dead host's TCP timeout."""

import logging
import os
import secrets
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connections
from kombu import Connection

from .storage import storage_probe

logger = logging.getLogger(__name__)


def database_probe() -> None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connections["default"].close()  # this thread's own connection; nobody reuses it


def broker_probe() -> None:
    """One connection attempt, no retry loop. The filesystem broker (make run) is reachable
    when its folder is writable."""
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        if not os.access(folder, os.W_OK):
            raise PermissionError("broker folder not writable")
        return
    timeout = settings.HEALTHZ_TIMEOUT_SECONDS
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=timeout,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    ) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)


def cache_probe() -> None:
    """A write and a read back: a cache that accepts writes but loses them (a full Redis
    with a no-eviction policy refusing writes, say) is not healthy either."""
    token = secrets.token_hex(8)
    cache.set("healthz:probe", token, timeout=30)
    if cache.get("healthz:probe") != token:
        raise RuntimeError("cache did not return what was written")


def private_storage_probe() -> None:
    storage_probe(storages["private"])


PROBES = {
    "database": database_probe,
    "broker": broker_probe,
    "cache": cache_probe,
    "storage": private_storage_probe,
}


def health_report() -> dict[str, str]:
    """{"database": "ok", "broker": "error: ConnectionRefusedError", …}. Error texts name the
    exception's type only: its message may hold a URL with a password."""
    timeout = settings.HEALTHZ_TIMEOUT_SECONDS
    outcomes: dict[str, BaseException | None] = {}
    threads = [
        # Daemon threads: a probe stuck on a dead host must not hold up the process's exit.
        threading.Thread(target=_run, args=(name, probe, outcomes), daemon=True, name=name)
        for name, probe in PROBES.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: _verdict(name, outcomes, timeout) for name in PROBES}


def _run(name: str, probe, outcomes: dict) -> None:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure is the probe's answer
        outcomes[name] = exc
    else:
        outcomes[name] = None


def _verdict(name: str, outcomes: dict, timeout: float) -> str:
    if name not in outcomes:
        logger.error("healthz: %s did not answer within %s s", name, timeout)
        return f"error: no answer within {timeout:g} s"
    error = outcomes[name]
    if error is None:
        return "ok"
    logger.error("healthz: %s unavailable", name, exc_info=error)
    return f"error: {type(error).__name__}"

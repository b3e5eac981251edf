"""Health: `/healthz` (liveness) and `/healthz/ready` (the services the site needs).

- **`/healthz`** says the web process answers, and touches no service: a load balancer may
  poll every web server every few seconds for nothing, and a Redis hiccup does not take every
  server out of rotation (the site serves pages without the cache or the broker).
- **`/healthz/ready`** checks the database, the broker, the cache and the private storage:
  each check opens a connection to a service, so it answers only this machine (loopback,
  not through a proxy) or a request carrying HEALTHZ_TOKEN; anyone else gets 403.
- Each probe runs in a thread of its own with HEALTHZ_TIMEOUT_SECONDS; the probes run side by
  side, so the answer comes within about one time limit even when every service hangs. A
  probe that hangs is reported and left to finish (or fail) on its own, and no second probe
  of that service starts while it hangs: at most one thread per service, however many polls.
- The answer is reused for HEALTHZ_CACHE_SECONDS: several monitors, or one retrying, cost one
  round of probes per period and process."""

import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

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
    with a no-eviction policy refusing writes, say) is not healthy either. Asked directly,
    not through the pages' breaker (common/breaker.py): the probe reports what is."""
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


def readiness_allowed(request) -> bool:
    """This machine itself (a monitoring agent, `curl` on the host), or HEALTHZ_TOKEN as
    `Authorization: Bearer <token>` or `?token=` (for load balancers that cannot send a
    header; log lines redact it, common/logging.py)."""
    token = settings.HEALTHZ_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    given = given or request.GET.get("token", "")
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    return _from_this_machine(request)


def _from_this_machine(request) -> bool:
    """A loopback peer that is not a proxy: nginx on the same host connects from loopback
    too, but adds X-Forwarded-For (docs/deploy.md)."""
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@dataclass
class _Probe:
    """One probe's run in its own thread; `error` is its outcome once `done`."""

    name: str
    function: object
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> "_Probe":
        # A daemon thread: a probe stuck on a dead host must not hold up the process's exit.
        threading.Thread(target=self._run, daemon=True, name=f"healthz-{self.name}").start()
        return self

    def _run(self) -> None:
        try:
            self.function()
        except Exception as exc:  # noqa: BLE001 - any failure is the probe's answer
            self.error = exc
        finally:
            self.done.set()


class Readiness:
    """The last round's answer and the probes still running, per process."""

    def __init__(self):
        self.lock = threading.Lock()  # one round at a time; other polls then reuse it
        self.probes: dict[str, _Probe] = {}
        self.answer: dict[str, str] = {}
        self.answered_at = float("-inf")

    def report(self) -> dict[str, str]:
        with self.lock:
            if time.monotonic() - self.answered_at < settings.HEALTHZ_CACHE_SECONDS:
                return dict(self.answer)
            self.answer = self._round()
            self.answered_at = time.monotonic()
            return dict(self.answer)

    def _round(self) -> dict[str, str]:
        timeout = settings.HEALTHZ_TIMEOUT_SECONDS
        started = []
        for name, function in PROBES.items():
            previous = self.probes.get(name)
            if previous is None or previous.done.is_set():  # a hung one is not doubled
                self.probes[name] = _Probe(name, function).start()
                started.append(self.probes[name])
        deadline = time.monotonic() + timeout
        for probe in started:
            probe.done.wait(max(0.0, deadline - time.monotonic()))
        return {name: _verdict(self.probes[name], timeout) for name in PROBES}

    def reset(self) -> None:
        with self.lock:
            self.probes, self.answer, self.answered_at = {}, {}, float("-inf")


readiness = Readiness()


def health_report() -> dict[str, str]:
    """{"database": "ok", "broker": "error: ConnectionRefusedError", …}. Error texts name the
    exception's type only: its message may hold a URL with a password."""
    return readiness.report()


def _verdict(probe: _Probe, timeout: float) -> str:
    if not probe.done.is_set():
        waited = time.monotonic() - probe.started
        logger.error("healthz: %s has not answered for %.1f s", probe.name, waited)
        return f"error: no answer within {timeout:g} s"
    if probe.error is None:
        return "ok"
    logger.error("healthz: %s unavailable", probe.name, exc_info=probe.error)
    return f"error: {type(probe.error).__name__}"

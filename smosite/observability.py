"""Request ids and task timings in the logs.

Every request gets an id: the `X-Request-ID` its proxy sent (when it looks like an id), or a
new one. It is on every log line written while the request is handled (a logging filter adds
`request_id` to each record), in the response's `X-Request-ID` header, and in a header of every
Celery task the request publishes; the worker puts it back on the task's log lines, and on
the tasks that task publishes in turn. A task started by beat has no request id; its task_id
and task_name (on every line it writes) identify it.

Celery signals log each task's duration and outcome, and each failure with its traceback.
https://docs.celeryq.dev/en/stable/userguide/signals.html"""

import contextvars
import logging
import re
import time
import uuid

from celery import signals as celery_signals
from django.core import signals as django_signals

logger = logging.getLogger("smosite.tasks")

HEADER = "X-Request-ID"
TASK_HEADER = "smosite_request_id"
# What a proxy may send: ids from nginx ($request_id), load balancers and uuids. Anything
# else (too long, spaces, control characters) is replaced, never written to the log.
ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
current_task: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "current_task", default=("", "")
)


def request_id_new(incoming: str | None = None) -> str:
    if incoming and ACCEPTED_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds request_id, task_id and task_name to every record (empty outside a request or a
    task), so formatters can print them and JSON logs always have the keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", "") or request_id.get()
        task_id, task_name = current_task.get()
        record.task_id = getattr(record, "task_id", "") or task_id
        record.task_name = getattr(record, "task_name", "") or task_name
        return True


# --- Web requests ---------------------------------------------------------------------------


def _request_started(sender, environ=None, scope=None, **kwargs):
    """Set before any middleware runs, so Django's own request logging (404s, 500s, which
    it writes after the middleware chain has returned) carries the id too."""
    incoming = None
    if environ is not None:
        incoming = environ.get("HTTP_X_REQUEST_ID")
    elif scope is not None:
        headers = dict(scope.get("headers") or [])
        incoming = (headers.get(b"x-request-id") or b"").decode("latin-1")
    request_id.set(request_id_new(incoming))


def _request_finished(sender, **kwargs):
    request_id.set("")  # a thread serves the next request with a fresh id


django_signals.request_started.connect(_request_started, dispatch_uid="smosite-request-id")
django_signals.request_finished.connect(_request_finished, dispatch_uid="smosite-request-id")


class RequestIdMiddleware:
    """Tells the client (and the proxy's access log) the request's id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        current = request_id.get() or request_id_new(request.headers.get(HEADER))
        request_id.set(current)
        request.request_id = current
        response = self.get_response(request)
        response[HEADER] = current
        return response


# --- Celery ---------------------------------------------------------------------------------


@celery_signals.setup_logging.connect(dispatch_uid="smosite-logging")
def _logging_from_settings(**kwargs):
    """Workers and beat log through Django's LOGGING (JSON in production, request ids) rather
    than Celery's own format; a receiver here tells Celery to leave logging alone."""
    import copy
    import logging.config

    from django.conf import settings

    # dictConfig consumes parts of the dict it is given ("()" keys); Django already used it.
    logging.config.dictConfig(copy.deepcopy(settings.LOGGING))


@celery_signals.before_task_publish.connect(dispatch_uid="smosite-request-id")
def _task_header_add(sender=None, headers=None, **kwargs):
    current = request_id.get()
    if current and headers is not None:
        headers.setdefault(TASK_HEADER, current)


@celery_signals.task_prerun.connect(dispatch_uid="smosite-task-start")
def _task_started(sender=None, task_id=None, task=None, **kwargs):
    """The task's lines carry the id its publisher had (a task run eagerly, inside the
    request, keeps the request's own); the previous values come back when it ends."""
    incoming = getattr(task.request, TASK_HEADER, None) if task is not None else None
    tokens = (
        request_id.set(incoming or request_id.get()),
        current_task.set((task_id or "", getattr(sender, "name", "") or "")),
    )
    _started[task_id] = (time.monotonic(), tokens)


@celery_signals.task_postrun.connect(dispatch_uid="smosite-task-end")
def _task_finished(sender=None, task_id=None, state=None, **kwargs):
    started = _started.pop(task_id, None)
    if started is None:
        return
    seconds = time.monotonic() - started[0]
    logger.info(
        "task %s %s in %.3f s",
        getattr(sender, "name", "?"),
        (state or "done").lower(),
        seconds,
        extra={"duration_seconds": round(seconds, 6), "state": state},
    )
    request_token, task_token = started[1]
    current_task.reset(task_token)
    request_id.reset(request_token)


@celery_signals.task_failure.connect(dispatch_uid="smosite-task-failure")
def _task_failed(sender=None, task_id=None, exception=None, einfo=None, **kwargs):
    logger.error(
        "task %s failed: %s: %s",
        getattr(sender, "name", "?"),
        type(exception).__name__,
        exception,
        exc_info=(type(exception), exception, exception.__traceback__) if exception else None,
        extra={"state": "FAILURE"},
    )


@celery_signals.task_retry.connect(dispatch_uid="smosite-task-retry")
def _task_retried(sender=None, request=None, reason=None, **kwargs):
    logger.warning("task %s will retry: %s", getattr(sender, "name", "?"), reason)


_started: dict[str, tuple[float, tuple]] = {}

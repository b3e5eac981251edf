"""Secrets that travel in URLs never reach a log: a buyer's download token, a sample
request's status token, a quote, a Checkout Session id, a staff member's two-factor set-up
link, any `?token=` (the readiness probe's). Django logs the path of every 4xx ("Gone: /download/…" for each expired link),
runserver and gunicorn every request line."""

import logging
import re

REDACTED = "[redacted]"
# (pattern, replacement): the secret part of each URL that carries one.
SECRET_URL_PARTS = (
    (re.compile(r"(/download/[^/\s?#\"']+/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"(/enquiry/sample/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"(/enquiry/request-sample/thank-you/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"(/admin/two-factor/enrol/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"([?&](?:quote|session_id|token)=)[^&\s#\"']+"), rf"\1{REDACTED}"),
)
# Loggers that write request paths themselves. A filter on a logger runs for every handler
# the record reaches (a JSON formatter, pytest's capture, gunicorn's own handlers).
URL_LOGGERS = ("django.request", "django.server", "django.security", "gunicorn.access")


def secrets_redact(text: str) -> str:
    for pattern, replacement in SECRET_URL_PARTS:
        text = pattern.sub(replacement, text)
    return text


class _RedactedRequest:
    """Stands in for `record.request` (Django attaches the request to django.request
    records): formatters that print extras print its redacted repr; code that reads its
    attributes still gets the real request."""

    def __init__(self, request):
        self._request = request

    def __getattr__(self, name):
        return getattr(self._request, name)

    def __repr__(self):
        return secrets_redact(repr(self._request))

    __str__ = __repr__


class SecretsRedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return True
        redacted = secrets_redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, _RedactedRequest):
            record.request = _RedactedRequest(request)
        return True


def secrets_redaction_install() -> None:
    """Called once the logging configuration is in place (CommonConfig.ready), so it holds
    whatever LOGGING an environment uses: on the loggers that write paths, and on every
    handler of the root logger (records propagated from any other logger)."""
    redactor = SecretsRedactingFilter()
    targets = [logging.getLogger(name) for name in URL_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, SecretsRedactingFilter) for f in target.filters):
            target.addFilter(redactor)

"""Shared fixtures. Everything here is a real part: PostgreSQL (DATABASE_URL), Redis
(CELERY_BROKER_URL / CACHE_URL), an aiosmtpd server on loopback, a Celery worker process.
A missing service is an error, never a skip."""

import logging
import os

import pytest
import redis
from django.conf import settings

from tests.support.smtp import SmtpServer
from tests.support.worker import WorkerProcess


def pytest_configure(config):
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        raise pytest.UsageError(
            "Tests run against PostgreSQL: set DATABASE_URL=postgres://… (make test does)."
        )
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        raise pytest.UsageError("Tests run against Redis: set CELERY_BROKER_URL=redis://…")


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server):
    """The SMTP server's received messages, emptied for each test."""
    smtp_server.sink.clear()
    return smtp_server.sink


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, smtp_server, tmp_path_factory):
    """A real worker process. Tests using it need `transactional_db` so it sees their rows."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    worker = WorkerProcess(
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
        extra_env={
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "MAIL_RETRY_BACKOFF_SECONDS": "1",
            "MAIL_MAX_ATTEMPTS": "3",  # a final failure within seconds (1 s, then 2 s)
            "SMOSITE_VAR_DIR": str(settings.VAR_DIR),
        },
    ).start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    return (
        f"smosite: database {db['ENGINE'].rsplit('.', 1)[-1]} {db['HOST']}:{db['PORT']}, "
        f"broker {settings.CELERY_BROKER_URL}, CI={os.environ.get('CI', '')}"
    )

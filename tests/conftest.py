"""Shared fixtures. Everything here is a real part: PostgreSQL (DATABASE_URL), Redis
(CELERY_BROKER_URL / CACHE_URL), an aiosmtpd server on loopback, a Celery worker process.
A missing service is an error, never a skip."""

import logging
import os
import sys

import pytest
import redis
from django.conf import settings

from tests.support.dovecot import DovecotServer
from tests.support.s3 import MotoS3Server
from tests.support.smtp import SmtpServer
from tests.support.stripe_server import StripeTestServer
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

STRIPE_TEST_KEY = "sk_test_smosite_fake_key"
STRIPE_TEST_WEBHOOK_SECRET = "whsec_smosite_fake_secret"


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
    """The SMTP server's received messages, emptied for each test (after the shared worker,
    if it runs, finished whatever an earlier test left it, so nothing arrives late)."""
    if WorkerProcess.shared is not None:
        WorkerProcess.shared.quiesce()
    smtp_server.sink.clear()
    return smtp_server.sink


@pytest.fixture(scope="session")
def dovecot_server():
    """A private Dovecot IMAP server (tests/support/dovecot.py); missing Dovecot is an error."""
    server = DovecotServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stripe_server():
    """The Stripe-compatible test server (tests/support/stripe_server.py) on loopback."""
    server = StripeTestServer(
        api_key=STRIPE_TEST_KEY, webhook_secret=STRIPE_TEST_WEBHOOK_SECRET
    ).start()
    yield server
    server.stop()


# Settings the shared test worker runs with: retries within seconds, so a test can watch a
# job fail, back off and succeed (or give up) without waiting minutes.
WORKER_ENV = {
    "MAIL_RETRY_BACKOFF_SECONDS": "1",
    "MAIL_MAX_ATTEMPTS": "3",  # a final failure within seconds (1 s, then 2 s)
    "DELIVERABLE_RETRY_BACKOFF_SECONDS": "1",
    "SAMPLE_PREPARE_RETRY_SECONDS": "1",
    "ENQUIRY_REPLY_RETRY_BACKOFF_SECONDS": "1",
}


def worker_env(smtp_server, stripe_server, **overrides) -> dict[str, str]:
    """The environment of a test worker: this process's broker, var folder, SMTP server and
    Stripe test server, the quick retries above, and `overrides`."""
    return {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SMOSITE_VAR_DIR": str(settings.VAR_DIR),
        "STRIPE_API_BASE": stripe_server.url,
        "STRIPE_SECRET_KEY": STRIPE_TEST_KEY,
        "STRIPE_WEBHOOK_SECRET": STRIPE_TEST_WEBHOOK_SECRET,
        **WORKER_ENV,
        **overrides,
    }


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 in server mode on loopback (tests/support/s3.py)."""
    server = MotoS3Server().start()
    yield server
    server.stop()


@pytest.fixture
def private_s3(s3_server, settings):
    """Private storage in a fresh S3 bucket for this test (this process only; a worker
    needs PRIVATE_STORAGE_URL in its environment). Returns (server, bucket)."""
    from smosite.storage_url import private_storage_config

    bucket = s3_server.bucket_create()
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(s3_server.storage_url(bucket), default_location=""),
    }
    return s3_server, bucket


@pytest.fixture(scope="session")
def _shared_worker(django_db_setup, smtp_server, stripe_server, tmp_path_factory):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    worker = WorkerProcess(
        log_path=tmp_path_factory.mktemp("worker") / "worker.log",
        extra_env=worker_env(smtp_server, stripe_server),
    ).start()
    WorkerProcess.shared = worker
    yield worker
    WorkerProcess.shared = None
    worker.stop()


TEST_DATABASE_SESSIONS_WAIT = 10  # seconds


@pytest.fixture(scope="session", autouse=True)
def _test_database_left_alone(django_db_setup, django_db_blocker):
    """Before the test database is dropped, no other session may hold it (DROP DATABASE
    refuses, and the run fails at teardown). A stopped worker's backends end a moment after
    its sockets close, so this waits for them; a session still there after
    TEST_DATABASE_SESSIONS_WAIT seconds belongs to a thread of this run that never closed its
    connection (seen about once in three runs of the browser checks beside the sales tests
    with two processes, not traced yet): it is named on stderr and ended, since the database
    goes with it."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]

        def others() -> list:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, state, backend_start, left(query, 100) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                )
                return cursor.fetchall()

        try:
            wait_until(lambda: not others(), timeout=TEST_DATABASE_SESSIONS_WAIT)
        except AssertionError:
            left = others()
            print(f"\nsessions left on {name}, ended: {left}", file=sys.stderr)  # noqa: T201
            with connection.cursor() as cursor:
                for pid, *_ in left:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            wait_until(lambda: not others(), timeout=TEST_DATABASE_SESSIONS_WAIT)
        connection.close()


@pytest.fixture
def celery_worker(_shared_worker, request):
    """A real worker process, shared by the session and handed to each test idle, with its
    queues empty. Tests using it need `transactional_db` so it sees their rows."""
    _shared_worker.quiesce()
    request.node.celery_worker = _shared_worker
    return _shared_worker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used a worker gets the worker's log in its report."""
    report = yield
    worker = getattr(item, "celery_worker", None)
    if report.failed and worker is not None:
        report.sections.append(("Celery worker log (last 80 lines)", worker.tail(80)))
    return report


@pytest.fixture(autouse=True)
def _fresh_publisher():
    """A test that made the broker or the cache unreachable leaves no open breaker behind."""
    from common import breaker, jobs

    jobs.publisher_reset()
    breaker.cache_breaker.reset()
    yield


# Reference data written by migrations and `post_migrate`, never by the code under test:
# content types, permissions, the Sales group, the canned replies.
KEPT_BETWEEN_TESTS = {
    "django_migrations",
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "enquiries_replytemplate",
    "pages_pageversion",  # the seeded legal pages (pages 0002); tests that add versions roll back
}


@pytest.fixture(scope="session", autouse=True)
def _flush_keeps_reference_data():
    """After a transactional test Django flushes every table and then re-creates content
    types, permissions and groups through `post_migrate`: most of a second per test, and
    every content type gets a new id under the feet of the running worker. Emptying only the
    tables the code writes leaves the reference data as migrations made it."""
    from django.db import connections, transaction
    from django.test import TransactionTestCase

    def fixture_teardown(self):
        for alias in self._databases_names(include_mirrors=False):
            connection = connections[alias]
            tables = connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            flushed = sorted(set(tables) - KEPT_BETWEEN_TESTS)
            # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE's new files for
            # every table and index cost far more. Foreign keys are checked at commit.
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                for table in flushed:
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608

    original = TransactionTestCase._fixture_teardown
    TransactionTestCase._fixture_teardown = fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = original


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


# --- Real browser (Playwright driving Debian's Chromium) ------------------------------------
# Pages are tested in the browser our visitors use, against pytest-django's `live_server`.
# Playwright's own browsers are never downloaded (`playwright install` is not used): a missing
# /usr/bin/chromium fails the test run, it never skips.
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM_PATH, os.X_OK):
        raise RuntimeError(f"Chromium is missing at {CHROMIUM_PATH} (apt-get install chromium).")
    # Playwright's sync API runs an event loop in this thread; Django would then refuse the
    # tests' own (synchronous) ORM calls as if they came from async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    """A fresh browser tab (own cookies) with a desktop viewport; 15 s timeouts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()

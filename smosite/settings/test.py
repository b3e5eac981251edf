"""pytest. DATABASE_URL / CELERY_BROKER_URL / CACHE_URL come from the environment (make test
and CI point them at PostgreSQL and Redis); the test fixtures start an SMTP server and a
Celery worker process."""

import os
import re
from pathlib import Path


def _isolate_parallel_test_process() -> None:
    """pytest-xdist runs several test processes (gw0, gw1, …). Each gets its own files under
    var/test/<gwN>, its own Redis databases (the broker's and the cache's numbers step down
    by two per process: gw1 uses 13 and 12 when given 15 and 14) and, from pytest-django, its
    own test database. The environment is rewritten once, so the Celery worker a test process
    starts (which inherits it) uses the same ones."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) if worker.startswith("gw") else 0
    if os.environ.get("SMOSITE_TEST_ISOLATED") == worker:
        return
    var = Path(__file__).resolve().parent.parent.parent / "var" / "test" / (worker or "main")
    if worker and "SMOSITE_TEST_ISOLATED" in os.environ:
        # Inherited from xdist's controller, which imported these settings first and set its
        # own folder (var/test/main): every test process wrote there, and one's renders
        # showed up in another's "nothing written locally" check.
        os.environ["SMOSITE_VAR_DIR"] = str(var)
    else:
        os.environ.setdefault("SMOSITE_VAR_DIR", str(var))
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = os.environ.get(name, "")
        match = re.fullmatch(r"(redis://[^/]+)/(\d+)", url)
        if match and index:
            db = int(match.group(2)) - 2 * index
            if db < 0:
                raise RuntimeError(
                    f"{name}={url}: no Redis database left for test process {worker}"
                )
            os.environ[name] = f"{match.group(1)}/{db}"
    os.environ["SMOSITE_TEST_ISOLATED"] = worker


# Generated files, PDFs and mail go to var/test, never the developer's var/.
_isolate_parallel_test_process()

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-not-secret-" + "x" * 40)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise expects it
# Templates used only by tests (e.g. the mail log's test message).
for _engine in TEMPLATES:  # noqa: F405
    _engine["DIRS"] = [*_engine["DIRS"], BASE_DIR / "tests" / "templates"]  # noqa: F405
# Close connections at the end of each request: the live server and concurrency tests serve
# requests from many threads, whose kept-alive connections would outlive the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Commits need not wait for the disk: a crashed test database is thrown away anyway, and the
# transactional tests' flush after each test is most of the suite's database time.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
# The dashboard's figures on the test's own connection: its rows are in the test's
# transaction, which a thread's connection would not see (tests/sales/test_dashboard.py
# checks the threads' figures against these in a transactional test).
SALES_DASHBOARD_QUERY_THREADS = 1

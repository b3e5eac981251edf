"""pytest. DATABASE_URL / CELERY_BROKER_URL / CACHE_URL come from the environment (make test
and CI point them at PostgreSQL and Redis); the test fixtures start an SMTP server and a
Celery worker process."""

import os
from pathlib import Path

# Generated files, PDFs and mail go to var/test, never the developer's var/.
os.environ.setdefault(
    "SMOSITE_VAR_DIR", str(Path(__file__).resolve().parent.parent.parent / "var" / "test")
)

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

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


def _forget_content_types(**_):
    """Transactional tests flush the database after each test, and Django re-creates the
    content types under new ids. The long-lived test worker must not keep the old ids in
    ContentType's cache (emails with `related=` would violate the foreign key)."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


from celery.signals import task_prerun  # noqa: E402

task_prerun.connect(_forget_content_types, weak=False)

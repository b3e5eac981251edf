"""`make run`: the embedded default (SQLite, filesystem broker, .eml mailbox)."""

from smosite.startup import refuse_local_settings

from .base import *  # noqa: F403
from .base import SITE_URL, env

# After .env is read: a deployment's SITE_URL there must not run on these settings either.
refuse_local_settings(site_url=SITE_URL)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-not-secret-" + "x" * 40)

VAR_DIR.mkdir(parents=True, exist_ok=True)  # noqa: F405 - the runtime folder
if CELERY_BROKER_URL.startswith("filesystem"):  # noqa: F405
    # kombu's filesystem broker needs its folders before the first message is sent (the seed
    # loader queues the PDF render before the worker has started).
    for _folder in ("queue", "processed"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)  # noqa: F405

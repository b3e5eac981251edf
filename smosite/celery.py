"""The Celery app. Tasks are routed by name to queues so production can give PDF rendering,
mail and payments their own workers (see CELERY_TASK_ROUTES in settings/base.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smosite.settings.local")

app = Celery("smosite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids carried into tasks, task durations and failures in the log.
from . import observability  # noqa: E402, F401

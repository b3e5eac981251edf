"""The Celery app. Background jobs are published to their kind's queue (common/jobs.py), so
production can give PDF rendering, mail and payments their own workers. A worker or beat whose
environment is a deployment's refuses the local settings (smosite/startup.py)."""

from celery import Celery
from celery.signals import task_prerun

from smosite.startup import settings_module

settings_module()

app = Celery("smosite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids carried into tasks, task durations and failures in the log.
from . import observability  # noqa: E402, F401


@task_prerun.connect(dispatch_uid="smosite-close-old-connections")
def close_old_connections(**kwargs):
    """As Django does at the start of each request: drop a connection that is broken or
    older than CONN_MAX_AGE, keep a healthy one (see CELERY_DB_REUSE_MAX in settings). A
    connection inside a transaction is left alone: a task run eagerly (`.apply()`) inside a
    request or a test must not close its caller's connection."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()

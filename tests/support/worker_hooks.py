"""Imported into the test worker process (`celery worker --include`).

Transactional tests flush the database after each test, and Django then creates the
content types again with new ids. The worker lives for the whole session, so it must not keep
the old ids in ContentType's per-process cache (production never renumbers them)."""

from celery.signals import task_prerun


@task_prerun.connect
def forget_content_types(**kwargs):
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()

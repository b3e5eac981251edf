from django.apps import AppConfig


class CommonConfig(AppConfig):
    """What both apps use: spam protection and rate limits for public forms, client
    addresses, text helpers, log redaction, and the background job mechanism."""

    name = "common"
    verbose_name = "Background jobs"

    def ready(self):
        # Imported for what they register: the file deletion job, the Celery task that runs
        # background jobs.
        from . import files, tasks  # noqa: F401
        from .logging import secrets_redaction_install

        secrets_redaction_install()

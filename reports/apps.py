from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from . import jobs, receivers  # noqa: F401 - jobs registers the kinds of background job
        from .services import alerts  # noqa: F401 - registers the "alerts" marketing purpose

        post_migrate.connect(_search_schema_ensure, sender=self)
        receivers.connect()  # catalogue edits invalidate the anonymous page cache


def _search_schema_ensure(sender, using, **kwargs):
    """SQLite loses the search triggers when a migration rebuilds the reports table; put them
    back (and reindex) after every migrate. Nothing to do on PostgreSQL."""
    from django.db import connections

    from .search.schema import sqlite_ensure

    connection = connections[using]
    if connection.vendor == "sqlite":
        tables = connection.introspection.table_names()
        if "reports_report" in tables:
            sqlite_ensure(connection)

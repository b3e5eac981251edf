"""Signal receivers, connected in ReportsConfig.ready.

Anonymous catalogue and report pages are served from the page cache (common/pagecache.py);
any saved or deleted catalogue row — a report, any of its parts, a licence or its price, a
category, a status change that publishes — may change what they show. The receivers cover
every route that goes through the ORM's save and delete (admin forms and inlines, services,
the seed loader); code that writes catalogue rows with `update()`, `bulk_create()` or raw SQL
(the importer) calls `catalogue_changed()` itself."""

from django.apps import apps
from django.db.models.signals import post_delete, post_save

from .services.search_index import catalogue_changed

CATALOGUE_MODULE = "reports.models.catalogue"


def catalogue_row_changed(sender, **kwargs):
    catalogue_changed()


def connect() -> None:
    for model in apps.get_app_config("reports").get_models():
        if model.__module__ == CATALOGUE_MODULE:
            uid = f"page-cache-{model._meta.label_lower}"
            post_save.connect(catalogue_row_changed, sender=model, dispatch_uid=f"{uid}-save")
            post_delete.connect(catalogue_row_changed, sender=model, dispatch_uid=f"{uid}-delete")

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and sales"

    def ready(self):
        # The PDF admin lives apart from admin.py (which the report admin owns).
        from . import admin_documents  # noqa: F401

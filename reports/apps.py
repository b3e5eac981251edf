from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and sales"

    def ready(self):
        from . import jobs  # noqa: F401 - registers the kinds of background job

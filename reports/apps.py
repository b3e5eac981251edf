from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and sales"

    def ready(self):
        from . import receivers

        receivers.connect()  # catalogue edits invalidate the anonymous page cache

from django.apps import AppConfig


class EnquiriesConfig(AppConfig):
    name = "enquiries"
    verbose_name = "Leads and enquiries"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the mail log's outcome signal

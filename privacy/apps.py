from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """A person's rights over their data: export, erasure, and the retention purge. It reads
    every app below it and nothing imports it."""

    name = "privacy"
    verbose_name = "Privacy"

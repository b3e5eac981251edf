from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The legal and trust pages (terms of sale, refund policy, contact, about), written by
    staff in admin as numbered versions. Low in the stack: orders records which terms
    version a buyer accepted."""

    name = "pages"
    verbose_name = "Legal and trust pages"

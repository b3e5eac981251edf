from django.apps import AppConfig


class ContactsConfig(AppConfig):
    """The people and what we send them: contacts, first-touch attribution and the outbox.
    Imports nothing above `common`: the apps that own an email learn its outcome through
    `email_outcome_register` (contacts/services/outbox.py)."""

    name = "contacts"
    verbose_name = "Contacts and the mail log"

    def ready(self):
        from . import jobs  # noqa: F401 - registers the "mail.send" kind of background job
        from .services import marketing  # noqa: F401 - the send-time guard of marketing email

"""Signals the mail log sends, so the lead or order an email belongs to can record the
outcome without the mail log knowing about leads or orders."""

from django.dispatch import Signal

# Sent once an email reaches a final state (status "sent" or "failed"); argument: `email`.
email_delivery_finished = Signal()

"""Development mailbox: each outbound message becomes one .eml file (open it in any mail
client). Used when EMAIL_URL is unset."""

import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *, directory, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory)

    def send_messages(self, email_messages):
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            mime = message.message()
            # Django 6.1 builds a modern email.message.EmailMessage: line endings via policy.
            path.write_bytes(mime.as_bytes(policy=mime.policy.clone(linesep="\r\n")))
        return len(email_messages)

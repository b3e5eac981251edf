"""Helpers for posting the public lead forms like a person would."""

import time

from django.core import signing

from common.antispam import SIGNER_SALT


class _BackdatedSigner(signing.TimestampSigner):
    def __init__(self, *, age_seconds: int, **kwargs):
        super().__init__(**kwargs)
        self.age_seconds = age_seconds

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - self.age_seconds)


def form_started_token(*, age_seconds: int = 60) -> str:
    """The signed "form shown at" value of a form opened `age_seconds` ago."""
    return _BackdatedSigner(age_seconds=age_seconds, salt=SIGNER_SALT).sign("form")

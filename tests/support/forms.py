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


def sample_form_data(**overrides) -> dict:
    """What a person posts on the sample request form: every required field filled in, and
    the form opened half a minute ago (past the anti-bot minimum). `overrides` add or replace
    fields."""
    return {
        "name": "Jane Doe",
        "email": "jane.doe@acme-pharma.example",
        "company": "Acme Pharma",
        "job_title": "Head of Clinical Operations",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(age_seconds=30),
        **overrides,
    }

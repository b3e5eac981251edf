"""Fixtures for the enquiry tests: the Sales group (re-applied, because transactional tests
flush the rows the data migration created), staff users and a report with licences."""

import time
from decimal import Decimal

import pytest
from django.core import signing

from common.antispam import SIGNER_SALT
from enquiries.services.sales_group import sales_group_sync
from tests.factories import LicenceFactory, ReportFactory, UserFactory


@pytest.fixture
def sales_group(db):
    return sales_group_sync()


@pytest.fixture
def sales_user(sales_group):
    user = UserFactory(username="anna", first_name="Anna", last_name="Berg")
    user.groups.add(sales_group)
    return user


@pytest.fixture
def second_sales_user(sales_group):
    user = UserFactory(username="ben", first_name="Ben", last_name="Okafor")
    user.groups.add(sales_group)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="boss", is_superuser=True)


@pytest.fixture
def report(db):
    report = ReportFactory(number=1780960, title="Clinical Trials SMO Market, 2025–2032")
    LicenceFactory(report=report, kind="single", price=Decimal("3900"), position=1)
    LicenceFactory(report=report, kind="multi", price=Decimal("5900"), position=2, max_users=5)
    LicenceFactory(report=report, kind="enterprise", price=Decimal("7900"), position=3)
    return report


def form_started_token(age_seconds: int = 60) -> str:
    """A signed form-start timestamp from `age_seconds` ago (a person takes time to type)."""

    class PastSigner(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - age_seconds)

    return PastSigner(salt=SIGNER_SALT).sign("form")

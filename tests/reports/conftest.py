"""Fixtures for buying reports: the Stripe test server wired into settings, a report on sale."""

from decimal import Decimal

import pytest

from reports.models import Licence
from reports.services.seed import report_load_seed
from tests.factories import LicenceFactory, ReportFactory


@pytest.fixture
def stripe(stripe_server, settings):
    """The Stripe test server, emptied, with the app (this process) pointed at it."""
    stripe_server.fake.reset()
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_SECRET_KEY = stripe_server.fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = stripe_server.fake.webhook_secret
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.FORM_MIN_FILL_SECONDS = 0
    return stripe_server.fake


@pytest.fixture
def report_on_sale(db):
    report = ReportFactory()
    LicenceFactory(report=report, kind=Licence.Kind.SINGLE, price=Decimal("3900.00"), max_users=1)
    LicenceFactory(
        report=report,
        kind=Licence.Kind.MULTI,
        price=Decimal("5900.00"),
        max_users=5,
        description="Up to five users at one site.",
        position=1,
    )
    LicenceFactory(
        report=report,
        kind=Licence.Kind.ENTERPRISE,
        price=Decimal("7900.00"),
        max_users=None,
        description="Unlimited users across your organisation.",
        position=2,
    )
    return report


SEED_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"


@pytest.fixture
def seed_report(db):
    """Report 1780960 loaded from reports/seed/ by the same loader `make run` uses."""
    return report_load_seed().report

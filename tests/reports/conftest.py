import pytest

from reports.services.seed import report_load_seed

SEED_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"


@pytest.fixture
def seed_report(db):
    """Report 1780960 loaded from reports/seed/ by the same loader `make run` uses."""
    return report_load_seed().report

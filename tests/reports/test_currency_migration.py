"""reports/0014 gives every existing licence a price in USD, EUR and GBP: the price staff set
stays exactly as it was in the currency it was set in, the other two come from
CURRENCY_FALLBACK_RATES rounded to a whole ten."""

from decimal import Decimal
from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reports.models import Licence
from tests.factories import ReportFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The migration under test and the reports migration it follows.
MIGRATION = "0014_licence_prices_per_currency"
BEFORE = [
    dependency
    for dependency in import_module(f"reports.migrations.{MIGRATION}").Migration.dependencies
    if dependency[0] == "reports"
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_existing_licences_keep_their_price_and_gain_the_other_two(settings):
    settings.CURRENCY_FALLBACK_RATES = {"EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
    report = ReportFactory()
    executor = migrate(BEFORE)
    old = executor.loader.project_state(BEFORE[0]).apps.get_model("reports", "Licence")
    for kind, price, currency in (("single", "3900", "USD"), ("multi", "5400", "EUR")):
        old.objects.create(
            report_id=report.pk, kind=kind, description="x", price=Decimal(price), currency=currency
        )
    executor = migrate(executor.loader.graph.leaf_nodes())

    prices = {
        licence.kind: (licence.price, licence.price_eur, licence.price_gbp)
        for licence in Licence.objects.filter(report=report)
    }
    assert prices == {
        "single": (Decimal("3900"), Decimal("3590"), Decimal("3080")),
        # EUR 5,400 stays; USD 5,870 (5,400 / 0.92 to a whole ten); GBP from that USD.
        "multi": (Decimal("5870"), Decimal("5400"), Decimal("4640")),
    }

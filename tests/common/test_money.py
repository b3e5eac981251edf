"""Money as people read it (common/money.py): the admin shows cents always, the report pages
only when there are any."""

from decimal import Decimal

from common.money import money_text


def test_money_reads_currency_then_amount_with_thousands_and_cents():
    assert money_text(Decimal("3900"), "USD") == "USD 3,900.00"
    assert money_text(Decimal("124500.5"), "EUR") == "EUR 124,500.50"
    assert money_text(None, "USD") == ""


def test_whole_amounts_may_leave_out_the_cents_but_never_lose_them():
    assert money_text(Decimal("3900.00"), "USD", cents=False) == "USD 3,900"
    assert money_text(Decimal("3900.50"), "GBP", cents=False) == "GBP 3,900.50"

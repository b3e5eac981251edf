"""Money as people read it: the currency code, then the amount with thousands separators
("USD 3,900.00"). One formatter for the admin's lists and pages, the receipts and the report
pages (which leave whole amounts without cents: "USD 3,900")."""

from decimal import Decimal


def money_text(amount: Decimal | int | float | None, currency: str, *, cents: bool = True) -> str:
    """ "USD 3,900.00" ("" for no amount). With `cents=False`, cents show only when there
    are any ("USD 3,900", "USD 3,900.50")."""
    if amount is None:
        return ""
    amount = Decimal(amount)
    whole = not cents and amount == amount.to_integral_value()
    return f"{currency} {amount:,.0f}" if whole else f"{currency} {amount:,.2f}"

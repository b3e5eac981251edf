"""CSV exports of visitor-typed text (the sample-request, enquiry and sales exports in admin)."""

# Spreadsheet apps run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text a lead typed must not run as a formula when sales open the export: such cells
    get a leading apostrophe. Other values (numbers, dates, None) pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value

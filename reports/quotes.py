"""Special-price quotes. Staff quote a price in an enquiry reply; the buyer gets a signed,
expiring link to the purchase page at that price. The token carries the terms, so nothing
can be altered in the browser."""

from decimal import Decimal

from django.conf import settings
from django.core import signing

SALT = "reports.quote"


class QuoteInvalid(Exception):
    pass


def quote_token_create(
    *, report_number: int, licence_kind: str, price: Decimal, currency: str, email: str
) -> str:
    payload = {
        "r": report_number,
        "l": licence_kind,
        "p": str(price),
        "c": currency,
        "e": email.strip().lower(),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def quote_token_read(token: str) -> dict:
    """The quote's terms: report_number, licence_kind, price (Decimal), currency, email.
    Raises QuoteInvalid for a tampered or expired token."""
    max_age = settings.QUOTE_VALID_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise QuoteInvalid("This quote has expired. Ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise QuoteInvalid("This quote link is not valid.") from exc
    return {
        "report_number": data["r"],
        "licence_kind": data["l"],
        "price": Decimal(data["p"]),
        "currency": data["c"],
        "email": data["e"],
    }

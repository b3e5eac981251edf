"""Special-price quotes. Staff quote a price in an enquiry reply; the buyer gets a signed,
expiring link to the purchase page at that price. The link names the reply, whose row holds
the terms, so nothing can be altered in the browser, staff can withdraw it, and the link
itself carries no personal data (it ends up in browser histories and logs)."""

from collections.abc import Callable

from django.conf import settings
from django.core import signing

SALT = "reports.quote"
INVALID = "This quote link is not valid."


class QuoteInvalid(Exception):
    pass


# Finds the reply a signed quote names (its row holds the terms); set by the app that owns
# replies (enquiries), so this module imports nothing above orders.
_reply_lookup: Callable[[dict], object | None] | None = None


def quote_reply_lookup_register(lookup: Callable[[dict], object | None]) -> None:
    """`lookup(data)` returns the reply (with quoted_price, quoted_currency, licence,
    quote_revoked_at, enquiry.report, enquiry.contact) that the token's data names, or None."""
    global _reply_lookup
    _reply_lookup = lookup


def quote_token_create(*, reply_id: int) -> str:
    return signing.dumps({"q": reply_id}, salt=SALT)


def quote_token_read(token: str) -> dict:
    """The quote's terms: report_number, licence_kind, price (Decimal), currency, email and
    reply_id. Raises QuoteInvalid for a tampered, expired or withdrawn quote."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.QUOTE_VALID_DAYS * 86400)
    except signing.SignatureExpired as exc:
        raise QuoteInvalid("This quote has expired. Ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise QuoteInvalid(INVALID) from exc
    reply = _reply_lookup(data) if isinstance(data, dict) and _reply_lookup else None
    if reply is None or reply.quoted_price is None or reply.licence is None:
        raise QuoteInvalid(INVALID)
    if reply.quote_revoked_at:
        raise QuoteInvalid("This quote has been withdrawn. Ask us for a new one.")
    return {
        "report_number": reply.enquiry.report.number,
        "licence_kind": reply.licence.kind,
        "price": reply.quoted_price,
        "currency": reply.quoted_currency,
        "email": reply.enquiry.contact.email,
        "reply_id": reply.pk,
    }

"""Special-price quotes. Staff quote a price in an enquiry reply; the buyer gets a signed,
expiring link to the purchase page at that price. The link names the reply, whose row holds
the terms, so nothing can be altered in the browser, staff can withdraw it, and the link
itself carries no personal data (it ends up in browser histories and logs).

A new edition's upgrade offer (orders/services/editions.py) is the same kind of quote: its
link names the offer's `EditionNotice` row (`{"u": id}` instead of `{"q": id}`), which
holds the discounted price, and opens the same purchase page."""

from collections.abc import Callable

from django.conf import settings
from django.core import signing

from .models import EditionNotice

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


def upgrade_quote_token_create(*, notice_id: int) -> str:
    return signing.dumps({"u": notice_id}, salt=SALT)


def quote_token_read(token: str) -> dict:
    """The quote's terms: report_number, licence_kind, price (Decimal), currency, email and
    reply_id. Raises QuoteInvalid for a tampered, expired or withdrawn quote."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.QUOTE_VALID_DAYS * 86400)
    except signing.SignatureExpired as exc:
        raise QuoteInvalid("This quote has expired. Ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise QuoteInvalid(INVALID) from exc
    if isinstance(data, dict) and "u" in data:
        return _upgrade_offer_terms(data["u"])
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


def _upgrade_offer_terms(notice_id) -> dict:
    notice = (
        EditionNotice.objects.select_related("edition__report", "order", "licence")
        .filter(pk=notice_id if isinstance(notice_id, int) else 0, kind=EditionNotice.Kind.OFFER)
        .first()
    )
    if notice is None or notice.offer_price is None or notice.licence is None:
        raise QuoteInvalid(INVALID)
    return {
        "report_number": notice.edition.report.number,
        "licence_kind": notice.licence.kind,
        "price": notice.offer_price,
        "currency": notice.offer_currency,
        "email": notice.order.buyer_email,
        "reply_id": None,
    }

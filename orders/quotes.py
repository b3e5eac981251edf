"""Special-price quotes. Staff quote a price in an enquiry reply; the buyer gets a signed,
expiring link to the purchase page at that price. The link names the reply, whose row holds
the terms, so nothing can be altered in the browser, staff can withdraw it, and the link
itself carries no personal data (it ends up in browser histories and logs)."""

from decimal import Decimal

from django.conf import settings
from django.core import signing

SALT = "reports.quote"
INVALID = "This quote link is not valid."


class QuoteInvalid(Exception):
    pass


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
    reply = _quote_reply(data) if isinstance(data, dict) else None
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


def _quote_reply(data: dict):
    from enquiries.models import EnquiryReply

    replies = EnquiryReply.objects.select_related("enquiry__report", "enquiry__contact", "licence")
    if "q" in data:
        return replies.filter(pk=data["q"]).first() if isinstance(data["q"], int) else None
    # Links signed before quotes named their reply carry the terms: the newest reply that
    # quoted exactly them is the quote (so it can be withdrawn like any other).
    try:
        terms = {
            "enquiry__report__number": int(data["r"]),
            "licence__kind": str(data["l"]),
            "quoted_price": Decimal(str(data["p"])),
            "quoted_currency": str(data["c"]),
            "enquiry__contact__email": str(data["e"]),
        }
    except (KeyError, ValueError, ArithmeticError):
        return None
    return replies.filter(**terms).order_by("-pk").first()

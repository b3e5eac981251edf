"""The buyer's journey in one line, for the order's admin page (orders/journey.py)."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Min

from enquiries.models import Enquiry, EnquiryReply, SampleRequest
from orders.models import Order


def _campaign(row) -> str:
    return " / ".join(v for v in (row.utm_source, row.utm_campaign) if v)


def _first_sample(days: int) -> str:
    if days == 0:
        return "first sample on the day of buying"
    return f"first sample {days} day{'s' if days != 1 else ''} before buying"


def _staff_name(user) -> str:
    return user.get_full_name() or user.get_username()


def buyer_journey(order: Order) -> str:
    """ "first sample 12 days before buying, from campaign X, 2 enquiries, answered by Y":
    what the buyer did before this order (paid, or else created), in four queries."""
    if order.contact_id is None:
        return ""
    bought = order.paid_at or order.created_at
    samples = SampleRequest.objects.filter(contact_id=order.contact_id, created_at__lte=bought)
    first = samples.order_by("created_at", "pk").first()
    enquiries = Enquiry.objects.filter(contact_id=order.contact_id, created_at__lte=bought).exclude(
        status=Enquiry.Status.SPAM
    )
    parts = []
    if first is not None:
        parts.append(_first_sample((bought - first.created_at).days))
    else:
        parts.append("no sample before buying")
    campaign = _campaign(first) if first is not None else ""
    campaign = campaign or _campaign(order)
    parts.append(f"from campaign {campaign}" if campaign else "no campaign")
    count = enquiries.aggregate(n=Count("pk"))["n"]
    parts.append(f"{count} enquir{'y' if count == 1 else 'ies'}")
    if count:
        parts.append(_answered_by(enquiries))
    return ", ".join(parts)


def _answered_by(enquiries) -> str:
    """The staff who replied to those enquiries, first replier first."""
    authors = (
        EnquiryReply.objects.filter(enquiry__in=enquiries, author__isnull=False)
        .values("author")
        .annotate(first=Min("created_at"))
        .order_by("first")
    )
    ids = [row["author"] for row in authors]
    if not ids:
        return "not answered"
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    return "answered by " + " and ".join(_staff_name(users[pk]) for pk in ids)

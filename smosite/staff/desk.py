"""Today at the desk: the counts on the admin's index page, each a link to the list that
shows those rows — new leads, unanswered enquiries, those past their SLA, orders needing
attention. Each is shown only to staff who may view that list."""

from dataclasses import dataclass
from datetime import datetime, time

from django.urls import reverse
from django.utils import timezone

from enquiries.admin.inbox import inbox_counts
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order


@dataclass(frozen=True)
class DeskCount:
    label: str
    count: int
    url: str
    urgent: bool = False  # shown in the warning colour when not zero


def desk_counts(request) -> list[DeskCount]:
    user = request.user
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    counts = []
    if user.has_perm("enquiries.view_samplerequest"):
        samples = reverse("admin:enquiries_samplerequest_changelist")
        counts.append(
            DeskCount(
                "Sample requests today",
                SampleRequest.objects.filter(created_at__gte=today).count(),
                f"{samples}?created_at__gte={today.date().isoformat()}",
            )
        )
    if user.has_perm("enquiries.view_enquiry"):
        inbox = reverse("admin:enquiries_enquiry_changelist")
        enquiries = inbox_counts(user=user)
        counts += [
            DeskCount(
                "Enquiries today",
                Enquiry.objects.filter(created_at__gte=today).count(),
                f"{inbox}?created_at__gte={today.date().isoformat()}",
            ),
            DeskCount(
                "Unanswered enquiries", enquiries["unanswered"], f"{inbox}?answer=unanswered"
            ),
            DeskCount(
                "Past their SLA", enquiries["overdue"], f"{inbox}?answer=overdue", urgent=True
            ),
        ]
    if user.has_perm("orders.view_order"):
        orders = reverse("admin:orders_order_changelist")
        counts.append(
            DeskCount(
                "Orders needing attention",
                Order.objects.filter(needs_attention=True).count(),
                f"{orders}?needs_attention__exact=1",
                urgent=True,
            )
        )
    return counts

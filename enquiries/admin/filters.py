"""The inbox's list filters: status (spam hidden), owner, answered, source."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q

from .. import sla
from ..models import Enquiry

User = get_user_model()
CLOSED = (Enquiry.Status.WON, Enquiry.Status.LOST, Enquiry.Status.SPAM)


def awaiting_answer_q() -> Q:
    """Waiting for us: never answered, or the customer replied since our last answer (the
    clock then counts from their reply, `customer_replied_at`)."""
    first = Q(first_response_at__isnull=True, status__in=Enquiry.AWAITING_ANSWER)
    return first | Q(status=Enquiry.Status.REPLIED)


def past_sla_q(cutoff) -> Q:
    """Waiting for us since before `cutoff` (sla.sla_overdue_cutoff())."""
    first = Q(first_response_at__isnull=True, status__in=Enquiry.AWAITING_ANSWER)
    return (first & Q(created_at__lt=cutoff)) | Q(
        status=Enquiry.Status.REPLIED, customer_replied_at__lt=cutoff
    )


class StatusFilter(admin.SimpleListFilter):
    """Spam is hidden unless asked for: the inbox is for people."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("all", "All, with spam"), *Enquiry.Status.choices]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All but spam",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset.exclude(status=Enquiry.Status.SPAM)
        if self.value() == "all":
            return queryset
        return queryset.filter(status=self.value())


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        people = User.objects.filter(owned_enquiries__isnull=False).distinct().order_by("pk")
        return [
            ("mine", "Mine"),
            ("none", "Unassigned"),
            *[(str(u.pk), u.get_full_name() or u.get_username()) for u in people],
        ]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(owner=request.user)
        if self.value() == "none":
            return queryset.filter(owner__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(owner_id=int(self.value()))
        return queryset


class AnswerFilter(admin.SimpleListFilter):
    title = "answer"
    parameter_name = "answer"

    def lookups(self, request, model_admin):
        return [
            ("unanswered", "Unanswered"),
            ("overdue", "Unanswered, past SLA"),
            ("answered", "Answered"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "unanswered":
            return queryset.filter(awaiting_answer_q())
        if self.value() == "overdue":
            return queryset.filter(past_sla_q(sla.sla_overdue_cutoff()))
        if self.value() == "answered":
            return queryset.filter(first_response_at__isnull=False)
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = (
            Enquiry.objects.exclude(utm_source="")
            .values_list("utm_source", flat=True)
            .distinct()
            .order_by("utm_source")[:30]
        )
        return [("-", "Direct (no campaign)"), *[(s, s) for s in sources]]

    def queryset(self, request, queryset):
        if self.value() == "-":
            return queryset.filter(utm_source="")
        if self.value():
            return queryset.filter(utm_source=self.value())
        return queryset

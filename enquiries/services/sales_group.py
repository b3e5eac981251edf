"""The "Sales" group and its permission set, in one place.

Sales staff see and answer leads (contacts, enquiries, replies, sample requests), see the
catalogue and orders read-only, and can never change reports, prices or payments. The set is
applied by a data migration and re-applied by `sales_group_sync()` (management command
`sync_sales_group`), because models added by later migrations (sample requests, orders) only
have permissions once those migrations ran.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

SALES_GROUP_NAME = "Sales"

# app label -> model name -> actions. Models that don't exist (yet) are skipped.
SALES_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "contact": ("view", "change"),
        "outboundemail": ("view",),
        "marketingconsent": ("view",),
    },
    "enquiries": {
        "enquiry": ("view", "change"),
        "enquiryreply": ("view", "add"),
        "replytemplate": ("view", "add", "change"),
        "samplerequest": ("view", "change"),
        "historicalenquiry": ("view",),
        # Customers' emails: read, and file an unmatched one in an enquiry's thread.
        "inboundemail": ("view", "change"),
        # Sample follow-ups: the texts are the sales desk's, like the canned replies.
        "followupstep": ("view", "add", "change"),
        "followup": ("view",),
        "followupevent": ("view",),
    },
    # The sales desk (sales/, an app above this one: named here as data, never imported):
    # Sales see and work the leads to call and log calls, and see the dashboard.
    "sales": {
        "lead": ("view", "change"),
        "leadcall": ("view", "add"),
    },
}
# Permissions that are not "<action>_<model>", by app label.
SALES_EXTRA_PERMISSIONS: dict[str, tuple[str, ...]] = {"sales": ("view_dashboard",)}
# Every other model of these apps is visible read-only, except the ones whose names say they
# hold payment data (Stripe events, payment records).
SALES_VIEW_ONLY_APPS = ("reports", "orders")
SALES_HIDDEN_MODEL_WORDS = ("payment", "stripe", "webhook", "refund")


def sales_permission_filter() -> Q:
    """The Sales permission set as one query on Permission (works with historical models in
    migrations too, since it only names fields)."""
    wanted = Q(pk__in=[])
    for app_label, models in SALES_PERMISSIONS.items():
        for model, actions in models.items():
            wanted |= Q(
                content_type__app_label=app_label,
                content_type__model=model,
                codename__in=[f"{action}_{model}" for action in actions],
            )
    for app_label, codenames in SALES_EXTRA_PERMISSIONS.items():
        wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
    view_only = Q(content_type__app_label__in=SALES_VIEW_ONLY_APPS, codename__startswith="view_")
    for word in SALES_HIDDEN_MODEL_WORDS:
        view_only &= ~Q(content_type__model__contains=word)
    return wanted | view_only


def sales_group_apply(*, group_model, permission_model):
    """Create the group if needed and set exactly the Sales permissions that exist now."""
    group, _ = group_model.objects.get_or_create(name=SALES_GROUP_NAME)
    group.permissions.set(permission_model.objects.filter(sales_permission_filter()))
    return group


@transaction.atomic
def sales_group_sync() -> Group:
    """Idempotent: (re)apply the Sales permission set. Run after migrations that add models
    Sales should see (`manage.py sync_sales_group`). Extra permissions given by hand to the
    group are removed, so the group never drifts into editing prices or payments."""
    return sales_group_apply(group_model=Group, permission_model=Permission)

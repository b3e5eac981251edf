"""Lead scores: each contact's points from what the site knows about them, and the reasons.

The rules (README, "Lead score"; the points are LEAD_SCORE_* settings):
  company address (+) or free mail (−); the company domain without an MX record (−, flagged);
  a senior job title; a target country; each repeat sample request (capped); an enquiry; a
  campaign landing (any sample, enquiry or order with utm_source/utm_campaign); an abandoned
  checkout (an order pending or expired, and none paid).

`leads_rescore` reads the facts of a batch of contacts in one query (subqueries per contact,
no per-row queries), asks DNS once per company domain (cached: sales/services/mx.py) and
upserts the rows. It runs in Celery (sales/tasks.py), never in a request: the signal
receivers only mark a contact's lead as changed."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from contacts.models import Contact
from enquiries.freemail import is_free_mail
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order

from ..models import Lead
from .calls import rotation_after, rotation_members_locked
from .mx import Mx, domain_mx

ABANDONED_STATUSES = (Order.Status.PENDING, Order.Status.ABANDONED)


@dataclass(frozen=True)
class Facts:
    """What the score of one contact is made from."""

    email: str
    job_title: str = ""
    country: str = ""
    samples: int = 0
    enquiry: bool = False
    campaign: bool = False
    abandoned: bool = False
    bought_at: datetime | None = None
    erased: bool = False

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[-1].lower()


@dataclass(frozen=True)
class Score:
    points: int
    reasons: list[dict]
    mx_flagged: bool


def _reason(rule: str, points: int, text: str) -> dict:
    return {"rule": rule, "points": points, "text": text}


def _senior(title: str) -> bool:
    words = [w.strip() for w in settings.LEAD_SENIOR_TITLE_WORDS if w.strip()]
    if not title or not words:
        return False
    pattern = r"\b(" + "|".join(re.escape(w) for w in words) + r")\b"
    return re.search(pattern, title, flags=re.IGNORECASE) is not None


def lead_score(facts: Facts, *, mx: Mx | None) -> Score:
    """The score of `facts`; `mx` is the domain's MX answer (None for free mail: not asked)."""
    if facts.erased:
        return Score(0, [], False)
    s = settings
    reasons = []
    if is_free_mail(facts.email):
        reasons.append(_reason("free_mail", s.LEAD_SCORE_FREE_MAIL, "free-mail address"))
    else:
        reasons.append(_reason("company_email", s.LEAD_SCORE_COMPANY_EMAIL, "company address"))
    flagged = mx is Mx.NONE
    if flagged:
        text = f"no MX record for {facts.domain}"
        reasons.append(_reason("no_mx", s.LEAD_SCORE_NO_MX, text))
    if _senior(facts.job_title):
        reasons.append(_reason("senior_title", s.LEAD_SCORE_SENIOR_TITLE, "senior job title"))
    if facts.country and facts.country in s.LEAD_TARGET_COUNTRIES:
        text = f"target country ({facts.country})"
        reasons.append(_reason("target_country", s.LEAD_SCORE_TARGET_COUNTRY, text))
    if facts.samples > 1:
        points = min(
            (facts.samples - 1) * s.LEAD_SCORE_REPEAT_SAMPLE, s.LEAD_SCORE_REPEAT_SAMPLES_MAX
        )
        reasons.append(_reason("repeat_samples", points, f"{facts.samples} sample requests"))
    if facts.enquiry:
        reasons.append(_reason("enquiry", s.LEAD_SCORE_ENQUIRY, "sent an enquiry"))
    if facts.campaign:
        reasons.append(_reason("campaign", s.LEAD_SCORE_CAMPAIGN, "came from a campaign"))
    if facts.abandoned and facts.bought_at is None:
        text = "abandoned a checkout"
        reasons.append(_reason("abandoned_checkout", s.LEAD_SCORE_ABANDONED_CHECKOUT, text))
    reasons = [r for r in reasons if r["points"]]
    return Score(sum(r["points"] for r in reasons), reasons, flagged)


def contacts_with_facts(queryset):
    """`queryset` of contacts annotated with every fact the score reads: one query, a
    correlated subquery per fact (each uses the contact foreign key's index)."""
    samples = SampleRequest.objects.filter(contact=OuterRef("pk")).order_by()
    enquiries = Enquiry.objects.filter(contact=OuterRef("pk")).exclude(status=Enquiry.Status.SPAM)
    orders = Order.objects.filter(contact=OuterRef("pk")).order_by()
    campaign = ~Q(utm_source="") | ~Q(utm_campaign="")
    sample_count = samples.values("contact").annotate(n=Count("pk")).values("n")
    latest = samples.order_by("-created_at", "-pk")
    return queryset.annotate(
        n_samples=Coalesce(Subquery(sample_count, output_field=IntegerField()), Value(0)),
        has_enquiry=Exists(enquiries),
        campaign_sample=Exists(samples.filter(campaign)),
        campaign_enquiry=Exists(enquiries.filter(campaign)),
        campaign_order=Exists(orders.filter(campaign)),
        abandoned=Exists(orders.filter(status__in=ABANDONED_STATUSES)),
        first_paid_at=Subquery(
            orders.filter(paid_at__isnull=False).order_by("paid_at").values("paid_at")[:1]
        ),
        sample_title=Subquery(latest.exclude(job_title="").values("job_title")[:1]),
        sample_country=Subquery(latest.exclude(country="").values("country")[:1]),
    )


def _facts_of(contact) -> Facts:
    return Facts(
        email=contact.email,
        job_title=contact.job_title or contact.sample_title or "",
        country=str(contact.country or contact.sample_country or ""),
        samples=contact.n_samples,
        enquiry=contact.has_enquiry,
        campaign=contact.campaign_sample or contact.campaign_enquiry or contact.campaign_order,
        abandoned=contact.abandoned,
        bought_at=contact.first_paid_at,
        erased=contact.erased_at is not None,
    )


def facts_for(contact: Contact) -> Facts:
    return _facts_of(contacts_with_facts(Contact.objects.filter(pk=contact.pk)).get())


def _mx_for(facts: Facts) -> Mx | None:
    if facts.erased or is_free_mail(facts.email) or "@" not in facts.email:
        return None
    return domain_mx(facts.domain)


def leads_rescore(*, contact_ids: Iterable[int] | None = None) -> int:
    """Rescore the given contacts (all when None), in batches of LEAD_SCORE_BATCH_SIZE;
    then give the leads that newly reached the call threshold an owner. Returns how many
    were scored."""
    base = Contact.objects.order_by("pk")
    if contact_ids is not None:
        base = base.filter(pk__in=list(contact_ids))
    scored, after = 0, 0
    while True:
        batch_started = timezone.now()
        batch = list(
            contacts_with_facts(base.filter(pk__gt=after))[: settings.LEAD_SCORE_BATCH_SIZE]
        )
        if not batch:
            break
        _leads_store(batch, scored_at=batch_started)
        scored += len(batch)
        after = batch[-1].pk
    leads_assign_new()
    return scored


def _leads_store(contacts: list, *, scored_at) -> None:
    rows = []
    for contact in contacts:
        facts = _facts_of(contact)
        score = lead_score(facts, mx=_mx_for(facts))
        rows.append(
            Lead(
                contact_id=contact.pk,
                score=score.points,
                reasons=score.reasons,
                mx_flagged=score.mx_flagged,
                scored_at=scored_at,
                bought_at=facts.bought_at,
            )
        )
    Lead.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["contact"],
        update_fields=["score", "reasons", "mx_flagged", "scored_at", "bought_at"],
    )


def leads_stale_ids() -> list[int]:
    """Contacts whose lead changed since it was last scored, or never was."""
    stale = Q(scored_at__isnull=True) | Q(changed_at__gte=F("scored_at"))
    return list(Lead.objects.filter(stale).values_list("contact_id", flat=True))


def leads_rescore_stale() -> int:
    ids = leads_stale_ids()
    return leads_rescore(contact_ids=ids) if ids else 0


def lead_changed(*, contact_ids: Iterable[int]) -> None:
    """Something a score reads changed for these contacts: their leads are stale (one upsert,
    in the caller's transaction; the rescore task picks them up)."""
    now = timezone.now()
    rows = [Lead(contact_id=pk, changed_at=now) for pk in set(contact_ids) if pk]
    if rows:
        Lead.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["contact"], update_fields=["changed_at"]
        )


# --- Owners for leads that reached the threshold ---------------------------------------------


@transaction.atomic
def leads_assign_new() -> int:
    """Each lead at or above LEAD_CALL_MIN_SCORE that is on nobody's list yet (not bought,
    not erased, never listed) gets the next Sales member in the rotation, highest score
    first, and a due date LEAD_CALL_DUE_HOURS away. Returns how many were assigned."""
    waiting = list(
        Lead.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            score__gte=settings.LEAD_CALL_MIN_SCORE,
            bought_at__isnull=True,
            listed_at__isnull=True,
            contact__erased_at__isnull=True,
        )
        .order_by("-score", "pk")
    )
    members = rotation_members_locked() if waiting else []
    if not members:
        return 0
    now = timezone.now()
    due = now + timedelta(hours=settings.LEAD_CALL_DUE_HOURS)
    for lead, owner in zip(waiting, rotation_after(members), strict=False):
        lead.owner = lead.auto_assigned_to = owner
        lead.listed_at, lead.due_at = now, due
    Lead.objects.bulk_update(waiting, ["owner", "auto_assigned_to", "listed_at", "due_at"])
    return len(waiting)

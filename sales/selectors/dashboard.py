"""The sales dashboard's figures: aggregate queries only (GROUP BY in PostgreSQL; Python
loops over the grouped rows, never over contacts or orders).

Definitions (README, "Sales dashboard"), for a date range [start, end):
- samples: sample requests created in the range; enquiries: enquiries created in it, spam
  excluded; leads: distinct contacts behind those samples and enquiries.
- orders: orders sold in the range, as the orders' own sales page counts them
  (orders/selectors.py `orders_sold`: paid in the range, still paid or fulfilled, not
  refunded or disputed); revenue: their amount_paid, per currency: amounts in two
  currencies are never added.
- by report, by campaign (the row's own first-touch utm_source / utm_campaign), by country
  (the contact's) and by week (of creation; orders: of payment).
- the funnel: contacts with a sample in the range → of those, with an enquiry in the range
  → of those, with an order paid in the range.
- time to buy: for contacts whose first sold order falls in the range and who requested a
  sample before it, the days from their first sample to that order (median and p90,
  PostgreSQL's percentile_cont, i.e. linear interpolation).
- promotion codes: orders paid in the range with a code, and their revenue per currency."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, TruncWeek
from django.utils import timezone

from contacts.models import Contact
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order
from orders.selectors import SOLD, orders_sold
from reports.models import Report

DIMENSIONS = {
    "report": "By report",
    "campaign": "By campaign (utm source / campaign)",
    "country": "By country",
    "week": "By week",
}
NO_CAMPAIGN = "(no campaign)"
NO_COUNTRY = "(unknown)"


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime

    @classmethod
    def of_days(cls, since: date, until: date) -> "Range":
        """Whole days, `until` included, in the site's time zone."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(since, time.min, tzinfo=zone)
        return cls(start, datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone))


@dataclass
class Row:
    key: object
    label: str = ""
    leads: int = 0
    samples: int = 0
    enquiries: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)


# --- The rows each figure counts -----------------------------------------------------------


def samples_in(span: Range):
    return SampleRequest.objects.filter(created_at__gte=span.start, created_at__lt=span.end)


def enquiries_in(span: Range):
    return Enquiry.objects.filter(created_at__gte=span.start, created_at__lt=span.end).exclude(
        status=Enquiry.Status.SPAM
    )


def orders_paid_in(span: Range):
    return orders_sold(since=span.start, until=span.end)


NET = Sum("amount_paid")


def _key(dimension: str, model):
    if dimension == "report":
        return F("report_id")
    if dimension == "country":  # orders without a contact count as unknown, like blanks
        return Coalesce(F("contact__country"), Value(""), output_field=CharField())
    if dimension == "week":
        return TruncWeek("paid_at" if model is Order else "created_at")
    return Case(
        When(utm_source="", utm_campaign="", then=Value("")),
        default=Concat("utm_source", Value(" / "), "utm_campaign"),
        output_field=CharField(),
    )


def by_dimension(dimension: str, span: Range) -> list[Row]:
    """One row per value of `dimension`: four GROUP BY queries and one for the labels."""
    rows: dict[object, Row] = {}

    def row(key) -> Row:
        return rows.setdefault(key, Row(key))

    for model_rows, attr in ((samples_in(span), "samples"), (enquiries_in(span), "enquiries")):
        grouped = model_rows.order_by().annotate(k=_key(dimension, model_rows.model))
        for item in grouped.values("k").annotate(n=Count("pk")):
            setattr(row(item["k"]), attr, item["n"])
    orders = orders_paid_in(span).order_by().annotate(k=_key(dimension, Order))
    for item in orders.values("k", "currency").annotate(n=Count("pk"), net=NET):
        target = row(item["k"])
        target.orders += item["n"]
        target.revenue[item["currency"]] = item["net"] or Decimal(0)
    for key, count in _leads(dimension, span):
        row(key).leads = count
    _label(dimension, rows)
    order = (lambda r: r.key) if dimension == "week" else (lambda r: (-r.leads, -r.orders, r.label))
    return sorted(rows.values(), key=order)


def _leads(dimension: str, span: Range) -> list[tuple[object, int]]:
    """Distinct contacts behind the samples and enquiries, per key: one query over the
    union of both (a contact who did both counts once)."""
    parts = []
    for rows in (samples_in(span), enquiries_in(span)):
        keyed = rows.order_by().annotate(k=_key(dimension, rows.model)).values("k", "contact_id")
        parts.append(keyed.query.sql_with_params())
    sql = " UNION ALL ".join(f"({part})" for part, _ in parts)
    params = [p for _, part_params in parts for p in part_params]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT k, COUNT(DISTINCT contact_id) FROM ({sql}) AS leads GROUP BY k",  # noqa: S608
            params,
        )
        found = cursor.fetchall()
    if dimension == "week":  # a raw cursor gets the truncated week naive; the ORM, aware
        zone = timezone.get_current_timezone()
        found = [(timezone.make_aware(k, zone) if k else k, n) for k, n in found]
    return found


def _label(dimension: str, rows: dict) -> None:
    if dimension == "report":
        names = dict(
            Report.objects.filter(pk__in=[k for k in rows if k]).values_list("pk", "number")
        )
        titles = dict(Report.objects.filter(pk__in=names).values_list("pk", "market_name"))
        for key, row in rows.items():
            row.label = f"{names.get(key, '?')} {titles.get(key, '')}".strip()
    for key, row in rows.items():
        if dimension == "campaign":
            row.label = key or NO_CAMPAIGN
        elif dimension == "country":
            row.label = str(key) if key else NO_COUNTRY
        elif dimension == "week":
            row.label = f"{timezone.localtime(key):%Y-%m-%d}" if key else "?"


# --- The funnel, time to buy, promotion codes --------------------------------------------------


@dataclass
class Funnel:
    sampled: int
    enquired: int
    ordered: int

    @staticmethod
    def rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def steps(self) -> list[tuple[str, int, float | None, float | None]]:
        """(step, contacts, % of the step before, % of those who sampled)."""
        return [
            ("Sample", self.sampled, None, 100.0 if self.sampled else None),
            (
                "→ enquiry",
                self.enquired,
                self.rate(self.enquired, self.sampled),
                self.rate(self.enquired, self.sampled),
            ),
            (
                "→ order",
                self.ordered,
                self.rate(self.ordered, self.enquired),
                self.rate(self.ordered, self.sampled),
            ),
        ]


def funnel(span: Range) -> Funnel:
    contact = OuterRef("pk")
    figures = (
        Contact.objects.filter(Exists(samples_in(span).filter(contact=contact)))
        .annotate(
            has_enquiry=Exists(enquiries_in(span).filter(contact=contact)),
            has_order=Exists(orders_paid_in(span).filter(contact=contact)),
        )
        .aggregate(
            sampled=Count("pk"),
            enquired=Count("pk", filter=Q(has_enquiry=True)),
            ordered=Count("pk", filter=Q(has_enquiry=True, has_order=True)),
        )
    )
    return Funnel(**figures)


@dataclass
class TimeToBuy:
    buyers: int
    median_days: float | None
    p90_days: float | None


def time_to_buy(span: Range) -> TimeToBuy:
    orders, samples = Order._meta.db_table, SampleRequest._meta.db_table
    sql = f"""
        SELECT COUNT(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY days)
        FROM (
            SELECT EXTRACT(EPOCH FROM f.first_order - s.first_sample) / 86400.0 AS days
            FROM (
                SELECT contact_id, MIN(paid_at) AS first_order FROM {orders}
                WHERE status = ANY(%s) AND paid_at IS NOT NULL AND contact_id IS NOT NULL
                GROUP BY contact_id
                HAVING MIN(paid_at) >= %s AND MIN(paid_at) < %s
            ) AS f
            CROSS JOIN LATERAL (
                SELECT MIN(created_at) AS first_sample FROM {samples}
                WHERE contact_id = f.contact_id
            ) AS s
            WHERE s.first_sample <= f.first_order
        ) AS buyers
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(SOLD), span.start, span.end])
        count, median, p90 = cursor.fetchone()
    as_float = lambda v: None if v is None else round(float(v), 1)  # noqa: E731
    return TimeToBuy(count, as_float(median), as_float(p90))


@dataclass
class PromotionRow:
    code: str
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    discount: dict[str, Decimal] = field(default_factory=dict)


def promotion_codes(span: Range) -> list[PromotionRow]:
    rows: dict[str, PromotionRow] = {}
    grouped = (
        orders_paid_in(span)
        .exclude(promotion_code="")
        .order_by()
        .values("promotion_code", "currency")
        .annotate(n=Count("pk"), net=NET, discount=Sum("amount_discount"))
    )
    for item in grouped:
        row = rows.setdefault(item["promotion_code"], PromotionRow(item["promotion_code"]))
        row.orders += item["n"]
        row.revenue[item["currency"]] = item["net"] or Decimal(0)
        row.discount[item["currency"]] = item["discount"] or Decimal(0)
    return sorted(rows.values(), key=lambda r: (-r.orders, r.code))


def currencies(*tables) -> list[str]:
    """Every currency any row of the tables has revenue in, sorted (one column each)."""
    found = {c for rows in tables for row in rows for c in row.revenue}
    return sorted(found)


def totals(span: Range) -> Row:
    """The range as a whole (leads counted once however many things they did)."""
    total = Row(key=None, label="All")
    total.samples = samples_in(span).count()
    total.enquiries = enquiries_in(span).count()
    total.leads = sum(n for _, n in _leads_total(span))
    for item in orders_paid_in(span).order_by().values("currency").annotate(n=Count("pk"), net=NET):
        total.orders += item["n"]
        total.revenue[item["currency"]] = item["net"] or Decimal(0)
    return total


def _leads_total(span: Range):
    parts = [
        rows.order_by().values("contact_id").query.sql_with_params()
        for rows in (samples_in(span), enquiries_in(span))
    ]
    sql = " UNION ".join(f"({part})" for part, _ in parts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1, COUNT(*) FROM ({sql}) AS leads",  # noqa: S608
            [p for _, params in parts for p in params],
        )
        return cursor.fetchall()


def dashboard(span: Range) -> dict:
    tables = {name: by_dimension(name, span) for name in DIMENSIONS}
    return {
        "tables": tables,
        "total": totals(span),
        "funnel": funnel(span),
        "time_to_buy": time_to_buy(span),
        "promotions": promotion_codes(span),
        "currencies": currencies(*tables.values()),
    }


def revenue_cells(row, currency_list: list[str]) -> list[str]:
    return [f"{row.revenue[c]:,.2f}" if c in row.revenue else "" for c in currency_list]

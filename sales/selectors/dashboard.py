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
  (the row's own: the country given on the sample request or enquiry; an order's billing
  country, else its contact's) and by week (of creation; orders: of payment).
- the funnel: contacts with a sample in the range → of those, with an enquiry in the range
  → of those, with an order paid in the range.
- time to buy: for contacts whose first sold order falls in the range and who requested a
  sample before it, the days from their first sample to that order (median and p90,
  PostgreSQL's percentile_cont, i.e. linear interpolation).
- promotion codes: orders paid in the range with a code, and their revenue per currency."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections
from django.db.models import CharField, Count, F, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncWeek
from django.utils import timezone

from enquiries.models import Enquiry, SampleRequest
from orders.models import Order
from orders.selectors import SOLD, orders_sold
from reports.models import Report

from .kept import kept_figures

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
    def default_days(cls) -> tuple[date, date]:
        """The last SALES_DASHBOARD_DEFAULT_DAYS, today included (the page without a range)."""
        today = timezone.localdate()
        return today - timedelta(days=settings.SALES_DASHBOARD_DEFAULT_DAYS - 1), today

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


# Each dimension's key columns. A campaign is its two utm columns grouped together (the
# label is joined in Python); a row's country is its own: the country given on the sample
# request or enquiry, an order's billing country or else its contact's (a join over the
# orders only: joining every sample and enquiry to its contact doubled the dashboard's time
# at 100,000 contacts).
KEY_COLUMNS = {
    "report": ["d_report"],
    "campaign": ["d_source", "d_campaign"],
    "country": ["d_country"],
    "week": ["d_week"],
}


def _keys(model) -> dict:
    keys = {
        "d_report": F("report_id"),
        "d_source": F("utm_source"),
        "d_campaign": F("utm_campaign"),
        "d_week": TruncWeek("paid_at" if model is Order else "created_at"),
    }
    if model is Order:
        keys["d_country"] = Coalesce(
            NullIf("billing_country", Value("")), "contact__country", Value(""),
            output_field=CharField(),
        )  # fmt: skip
    else:
        keys["d_country"] = F("country")
    return keys


def _keyed(rows, kind: str):
    """`rows` (samples, enquiries or orders) with every dimension's key columns."""
    keys = _keys(rows.model)
    fields = ["contact_id", *keys] + (["currency", "amount_paid"] if kind == "o" else [])
    kind_column = Value(kind, output_field=CharField())
    return rows.order_by().annotate(kind=kind_column, **keys).values("kind", *fields)


def _grouped(sql: str, params: list, aggregates: str, extra: str = "") -> list[tuple]:
    """`aggregates` over `sql`'s rows per value of each dimension and in all (GROUPING
    SETS: one scan for every table of the dashboard). Each result row starts with the
    dimension's name ("" for all), then every key column (NULL where not grouped)."""
    which = " ".join(
        f"WHEN GROUPING({columns[0]}) = 0 THEN '{name}'" for name, columns in KEY_COLUMNS.items()
    )
    every = [column for columns in KEY_COLUMNS.values() for column in columns]
    sets = ", ".join(f"({', '.join(columns)}{extra})" for columns in KEY_COLUMNS.values())
    sets += f", ({extra.removeprefix(', ')})"  # the totals
    query = (
        f"SELECT CASE {which} ELSE '' END, {', '.join(every)}, {aggregates} "  # noqa: S608
        f"FROM ({sql}) AS keyed GROUP BY GROUPING SETS ({sets})"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _leads_grouped(span: Range) -> list[tuple]:
    """Samples with enquiries, grouped by each dimension at once (the dashboard's longest
    query: distinct contacts per group)."""
    leads_sql, leads_params = zip(
        *(
            _keyed(rows, kind).query.sql_with_params()
            for rows, kind in ((samples_in(span), "s"), (enquiries_in(span), "e"))
        ),
        strict=True,
    )
    union = " UNION ALL ".join(f"({part})" for part in leads_sql)
    counts = (
        "COUNT(DISTINCT contact_id), COUNT(*) FILTER (WHERE kind = 's'), "
        "COUNT(*) FILTER (WHERE kind = 'e')"
    )
    return _grouped(union, [p for params in leads_params for p in params], counts)


def _orders_grouped(span: Range) -> list[tuple]:
    orders_sql, orders_params = _keyed(orders_paid_in(span), "o").query.sql_with_params()
    return _grouped(
        orders_sql, list(orders_params), "currency, COUNT(*), SUM(amount_paid)", ", currency"
    )


def dimension_tables(span: Range) -> tuple[dict[str, list[Row]], Row]:
    """Every "by …" table and the totals."""
    return _tables(_leads_grouped(span), _orders_grouped(span))


def _tables(leads: list[tuple], orders: list[tuple]) -> tuple[dict[str, list[Row]], Row]:
    """The grouped rows as tables, labelled (one query for the reports' names) and sorted."""
    tables: dict[str, dict] = {name: {} for name in DIMENSIONS}
    total = Row(key=None, label="All")

    def row(name, report, source, campaign, country, week) -> Row:
        if not name:
            return total
        key = {
            "report": lambda: report,
            "campaign": lambda: f"{source} / {campaign}" if source or campaign else "",
            "country": lambda: country,
            "week": lambda: _week(week),
        }[name]()
        return tables[name].setdefault(key, Row(key))

    for name, *key, count, samples, enquiries in leads:
        target = row(name, *key)
        target.leads, target.samples, target.enquiries = count, samples, enquiries
    for name, *key, currency, count, revenue in orders:
        target = row(name, *key)
        target.orders += count
        target.revenue[currency] = revenue or Decimal(0)
    result = {}
    for name, rows in tables.items():
        _label(name, rows)
        order = (lambda r: r.key) if name == "week" else (lambda r: (-r.leads, -r.orders, r.label))
        result[name] = sorted(rows.values(), key=order)
    return result, total


def _week(value):
    """A raw cursor gets the truncated week naive (the ORM would make it aware)."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_current_timezone())


def by_dimension(dimension: str, span: Range) -> list[Row]:
    return dimension_tables(span)[0][dimension]


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
    """Distinct contacts of each step joined from the samples' side (hash joins over the
    rows in the range, not a subquery per contact)."""
    parts = [
        rows.order_by().values("contact_id").distinct().query.sql_with_params()
        for rows in (samples_in(span), enquiries_in(span), orders_paid_in(span))
    ]
    (s_sql, s_params), (e_sql, e_params), (o_sql, o_params) = parts
    query = (
        "SELECT COUNT(*), COUNT(e.contact_id), "  # noqa: S608 - SQL from the ORM
        "COUNT(o.contact_id) FILTER (WHERE e.contact_id IS NOT NULL) "
        f"FROM ({s_sql}) AS s LEFT JOIN ({e_sql}) AS e ON e.contact_id = s.contact_id "
        f"LEFT JOIN ({o_sql}) AS o ON o.contact_id = s.contact_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*s_params, *e_params, *o_params])
        sampled, enquired, ordered = cursor.fetchone()
    return Funnel(sampled, enquired, ordered)


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


def dashboard(span: Range) -> dict:
    """Every figure for `span`: computed, or kept from an earlier request for the same range
    while no row they count has changed (sales/selectors/kept.py)."""
    return kept_figures(_name(span), lambda: dashboard_compute(span))


def dashboard_warm() -> bool:
    """Beat (SALES_DASHBOARD_WARM_SECONDS): the default range's figures computed on the
    worker when no current ones are kept, so the page staff open most is rarely the request
    that waits for them. True when they had to be computed."""
    computed = []

    def compute(span):
        computed.append(span)
        return dashboard_compute(span)

    span = Range.of_days(*Range.default_days())
    kept_figures(_name(span), lambda: compute(span))
    return bool(computed)


def _name(span: Range) -> str:
    return f"{span.start.isoformat()}/{span.end.isoformat()}"


def dashboard_compute(span: Range) -> dict:
    """The leads' grouping (the longest query) beside every other query, on two database
    connections at once (SALES_DASHBOARD_QUERY_THREADS)."""
    found = side_by_side(
        lambda: _leads_grouped(span),
        lambda: (_orders_grouped(span), funnel(span), time_to_buy(span), promotion_codes(span)),
    )
    leads, (orders, funnel_figures, timing, promotions) = found
    tables, total = _tables(leads, orders)
    return {
        "tables": tables,
        "total": total,
        "funnel": funnel_figures,
        "time_to_buy": timing,
        "promotions": promotions,
        "currencies": currencies(*tables.values()),
    }


def side_by_side(*calls: Callable[[], object]) -> list:
    """Each call's result, in order: with SALES_DASHBOARD_QUERY_THREADS above 1, the calls
    run at once in threads of their own, each on its own database connection (closed when
    its call ends), in the caller's time zone; with 1, one after another on the caller's.
    PostgreSQL cannot share one query's COUNT(DISTINCT) grouping between cores, but it runs
    two connections' queries on two."""
    threads = min(settings.SALES_DASHBOARD_QUERY_THREADS, len(calls))
    if threads <= 1:
        return [call() for call in calls]
    zone = timezone.get_current_timezone()

    def run(call):
        try:
            with timezone.override(zone):
                return call()
        finally:
            connections.close_all()  # this thread's own; the thread ends with the pool

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dashboard") as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


def revenue_cells(row, currency_list: list[str]) -> list[str]:
    return [f"{row.revenue[c]:,.2f}" if c in row.revenue else "" for c in currency_list]

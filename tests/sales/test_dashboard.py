"""Every figure of the sales dashboard equals a count made here, in plain Python, from the
rows this test creates (and the page, its tables and its CSV downloads say the same)."""

import csv
import io
import random
import re
import threading
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enquiries.models import SampleRequest
from orders.models import Order
from sales import tasks
from sales.selectors import dashboard as figures
from sales.selectors import kept
from tests.factories import ReportFactory
from tests.support.staff import sales_member

from .rows import contact, enquiry, order, sample

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:sales_lead_dashboard")
SOLD = {Order.Status.PAID, Order.Status.FULFILLED}
CAMPAIGNS = [("", ""), ("google", "spring"), ("linkedin", "spring"), ("newsletter", "")]
COUNTRIES = ["DE", "US", "", "JP"]


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def campaign_label(source: str, name: str) -> str:
    return f"{source} / {name}" if source or name else figures.NO_CAMPAIGN


def monday(moment: datetime) -> str:
    day = timezone.localtime(moment).date()
    return f"{day - timedelta(days=day.weekday()):%Y-%m-%d}"


def percentile_cont(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.fixture
def world():
    """Contacts with samples, enquiries (some spam) and orders (sold, refunded, pending, one
    without a contact), spread over six weeks so some fall outside the range; what was made
    is returned as plain records for the independent count."""
    rng = random.Random(24)
    today = timezone.localdate()
    since, until = today - timedelta(days=27), today
    reports = [ReportFactory(), ReportFactory(), ReportFactory()]
    made = {"samples": [], "enquiries": [], "orders": []}
    for n in range(30):
        country = COUNTRIES[n % len(COUNTRIES)]
        person = contact(f"p{n}@acme-pharma.example", country=country)
        for _ in range(rng.randint(0, 3)):
            report, (source, name) = rng.choice(reports), rng.choice(CAMPAIGNS)
            when = at(today - timedelta(days=rng.randint(0, 40)), rng.randint(0, 23))
            given = rng.choice([country, country, "FR"])  # the row's own, not always the contact's
            sample(person, report, at=when, utm_source=source, utm_campaign=name, country=given)
            made["samples"].append((person, report, source, name, when, given))
        if rng.random() < 0.5:
            report, (source, name) = rng.choice(reports), rng.choice(CAMPAIGNS)
            when = at(today - timedelta(days=rng.randint(0, 35)), 12)
            status = "spam" if rng.random() < 0.2 else "new"
            given = rng.choice([country, "FR"])
            enquiry(
                person,
                report,
                at=when,
                utm_source=source,
                utm_campaign=name,
                status=status,
                country=given,
            )
            made["enquiries"].append((person, report, source, name, when, given, status))
        for _ in range(rng.choice([0, 0, 1, 2])):
            report, (source, name) = rng.choice(reports), rng.choice(CAMPAIGNS)
            status = rng.choice([*SOLD, Order.Status.REFUNDED, Order.Status.PENDING])
            paid_at = at(today - timedelta(days=rng.randint(0, 35)), 15)
            currency = rng.choice(["USD", "EUR"])
            amount = rng.choice(["3900.00", "1250.50", "990.00"])
            code = rng.choice(["", "", "SPRING10", "VIP"])
            made_order = order(
                person,
                report,
                status=status,
                paid_at=paid_at,
                amount=amount,
                currency=currency,
                utm_source=source,
                utm_campaign=name,
                promotion_code=code,
                amount_discount=Decimal("10.00") if code else None,
                billing_country=rng.choice(["", "", "GB"]),
            )
            made["orders"].append(made_order)
    made["orders"].append(order(None, reports[0], paid_at=at(today, 1), currency="GBP"))
    return {"since": since, "until": until, "reports": reports, **made}


def expected(world) -> dict:
    """The figures counted here, from the records `world` returned."""
    start = at(world["since"], 0)
    end = at(world["until"] + timedelta(days=1), 0)

    def inside(moment):
        return start <= moment < end

    keys = {
        "report": lambda person, report, source, name, when, country: (
            f"{report.number} {report.market_name}"
        ),
        "campaign": lambda person, report, source, name, when, country: campaign_label(
            source, name
        ),
        "country": lambda person, report, source, name, when, country: (
            country or figures.NO_COUNTRY
        ),
        "week": lambda person, report, source, name, when, country: monday(when),
    }
    samples = [s for s in world["samples"] if inside(s[4])]
    enquiries = [e[:6] for e in world["enquiries"] if inside(e[4]) and e[6] != "spam"]
    sold = [o for o in world["orders"] if o.status in SOLD and inside(o.paid_at)]
    tables = {}
    for dimension, key in keys.items():
        table = defaultdict(
            lambda: {
                "leads": set(),
                "samples": 0,
                "enquiries": 0,
                "orders": 0,
                "revenue": defaultdict(Decimal),
            }
        )
        for record in samples:
            table[key(*record)]["samples"] += 1
            table[key(*record)]["leads"].add(record[0].pk)
        for record in enquiries:
            table[key(*record)]["enquiries"] += 1
            table[key(*record)]["leads"].add(record[0].pk)
        for o in sold:
            # An order's country: its billing country, else its contact's.
            country = o.billing_country or (o.contact.country if o.contact else "")
            row = table[key(o.contact, o.report, o.utm_source, o.utm_campaign, o.paid_at, country)]
            row["orders"] += 1
            row["revenue"][o.currency] += o.amount_paid
        tables[dimension] = {
            label: (len(v["leads"]), v["samples"], v["enquiries"], v["orders"], dict(v["revenue"]))
            for label, v in table.items()
        }
    sampled = {s[0].pk for s in samples}
    enquired = sampled & {e[0].pk for e in enquiries}
    ordered = enquired & {o.contact_id for o in sold}
    first_sample, first_order = {}, {}
    for person, _, _, _, when, _ in world["samples"]:
        first_sample[person.pk] = min(when, first_sample.get(person.pk, when))
    for o in world["orders"]:
        if o.status in SOLD and o.contact_id:
            first_order[o.contact_id] = min(o.paid_at, first_order.get(o.contact_id, o.paid_at))
    days = [
        (first_order[pk] - first_sample[pk]).total_seconds() / 86400
        for pk in first_order
        if inside(first_order[pk]) and pk in first_sample and first_sample[pk] <= first_order[pk]
    ]
    promotions = defaultdict(lambda: [0, defaultdict(Decimal)])
    for o in sold:
        if o.promotion_code:
            promotions[o.promotion_code][0] += 1
            promotions[o.promotion_code][1][o.currency] += o.amount_paid
    return {
        "tables": tables,
        "funnel": (len(sampled), len(enquired), len(ordered)),
        "days": days,
        "promotions": {code: (n, dict(rev)) for code, (n, rev) in promotions.items()},
        "totals": (
            len({s[0].pk for s in samples} | {e[0].pk for e in enquiries}),
            len(samples),
            len(enquiries),
            len(sold),
        ),
    }


def test_every_figure_equals_the_independent_count(world):
    want = expected(world)
    span = figures.Range.of_days(world["since"], world["until"])

    found = figures.dashboard(span)

    for dimension in figures.DIMENSIONS:
        got = {
            row.label: (row.leads, row.samples, row.enquiries, row.orders, row.revenue)
            for row in found["tables"][dimension]
        }
        assert got == want["tables"][dimension], dimension
    funnel = found["funnel"]
    assert (funnel.sampled, funnel.enquired, funnel.ordered) == want["funnel"]
    assert funnel.sampled > funnel.enquired > 0 and funnel.ordered > 0  # the data exercises it
    timing = found["time_to_buy"]
    assert timing.buyers == len(want["days"]) > 2
    assert timing.median_days == round(percentile_cont(want["days"], 0.5), 1)
    assert timing.p90_days == round(percentile_cont(want["days"], 0.9), 1)
    assert {r.code: (r.orders, r.revenue) for r in found["promotions"]} == want["promotions"]
    total = found["total"]
    assert (total.leads, total.samples, total.enquiries, total.orders) == want["totals"]
    assert set(total.revenue) == {"USD", "EUR", "GBP"}  # per currency, never one sum


def test_the_page_and_its_csv_show_the_same_figures(client, world, settings):
    settings.SALES_DASHBOARD_TOP_ROWS = 2
    want = expected(world)
    client.force_login(sales_member())
    query = {"since": f"{world['since']:%Y-%m-%d}", "until": f"{world['until']:%Y-%m-%d}"}

    page = client.get(DASHBOARD, query)

    assert page.status_code == 200
    sections = {s["name"]: s for s in page.context["sections"]}
    countries = sections["country"]
    assert len(countries["rows"]) == 2 and countries["more"] == len(want["tables"]["country"]) - 2
    text = page.content.decode()
    linked = re.findall(r'<img src="\?([^"]+)"', text)
    assert len(linked) >= 9 and "<script" not in text.split("sales-dashboard-range")[1]
    # Each chart is an image of its own URL, drawn from the same figures: the country
    # chart's SVG shows the two countries of the table.
    country_chart = next(q for q in linked if "chart=country-0" in q)
    chart_url = f"{DASHBOARD}?{country_chart.replace('&amp;', '&')}"
    chart = client.get(chart_url)
    assert chart.status_code == 200 and chart["Content-Type"].startswith("image/svg+xml")
    assert chart["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    svg = chart.content.decode()
    assert "<script" not in svg
    assert all(f">{row[0]}<" in svg for row in countries["rows"])
    assert client.get(chart_url, HTTP_IF_NONE_MATCH=chart["ETag"]).status_code == 304
    assert client.get(DASHBOARD, {**query, "chart": "country-9"}).status_code == 404

    download = client.get(DASHBOARD, {**query, "csv": "country"})
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    currencies = [h.removeprefix("Revenue ") for h in rows[0][5:]]
    got = {}
    for label, leads, samples, enquiries, orders, *revenue in rows[1:]:
        money = {
            c: Decimal(v.replace(",", "")) for c, v in zip(currencies, revenue, strict=True) if v
        }
        got[label] = (int(leads), int(samples), int(enquiries), int(orders), money)
    assert got == want["tables"]["country"]  # every row, not only the two on the page

    funnel = list(
        csv.reader(io.StringIO(client.get(DASHBOARD, {**query, "csv": "funnel"}).content.decode()))
    )
    assert [int(r[1]) for r in funnel[1:]] == list(want["funnel"])


def total_row(page) -> list:
    return next(s for s in page.context["sections"] if s["name"] == "total")["rows"][0]


def test_the_range_filter_is_a_get_form_and_a_bad_range_falls_back(client, world):
    client.force_login(sales_member())
    narrow = client.get(
        DASHBOARD, {"since": f"{world['until']:%Y-%m-%d}", "until": f"{world['until']:%Y-%m-%d}"}
    )
    wide = client.get(DASHBOARD)
    assert narrow.status_code == wide.status_code == 200
    assert total_row(narrow)[2] < total_row(wide)[2]  # fewer samples on one day
    bad = client.get(DASHBOARD, {"since": "2026-05-01", "until": "2026-01-01"})
    assert bad.status_code == 200
    assert "The start date is after the end date." in bad.content.decode()


def test_kept_figures_are_retired_by_a_new_row_and_only_kept_for_the_same_range(world):
    span = figures.Range.of_days(world["since"], world["until"])
    first = figures.dashboard(span)["total"]
    person, report = world["samples"][0][0], world["reports"][0]

    sample(person, report, at=at(world["until"], 9))
    enquiry(person, report, at=at(world["until"], 10))
    again = figures.dashboard(span)["total"]

    assert (again.samples, again.enquiries) == (first.samples + 1, first.enquiries + 1)
    narrow = figures.Range.of_days(world["until"], world["until"])
    assert figures.dashboard(narrow)["total"].samples < again.samples  # its own key


def test_figures_are_kept_until_a_signal_or_the_time_limit_says_otherwise(world, settings):
    """A write that bypasses the model signals (here a queryset update) is not seen while
    the figures are kept, which proves they are; with the cache off it is seen at once."""
    span = figures.Range.of_days(world["since"], world["until"])
    before = figures.dashboard(span)["total"].samples
    outside = at(world["since"] - timedelta(days=400), 12)

    moved = SampleRequest.objects.filter(
        created_at__gte=span.start, created_at__lt=span.end
    ).update(created_at=outside)

    assert moved > 0
    assert figures.dashboard(span)["total"].samples == before
    settings.SALES_DASHBOARD_CACHE_SECONDS = 0
    assert figures.dashboard(span)["total"].samples == before - moved == 0


def test_a_saved_order_retires_the_kept_figures_again_after_its_commit(
    world, django_capture_on_commit_callbacks
):
    """The second bump, after commit, retires figures a request computed and stored between
    the save and the commit (from rows it could not see yet)."""
    span = figures.Range.of_days(world["since"], world["until"])
    first = figures.dashboard(span)["total"]
    generation = cache.get(kept.GENERATION_KEY)

    with django_capture_on_commit_callbacks(execute=True):
        order(world["samples"][0][0], world["reports"][0], paid_at=at(world["until"], 8))

    assert cache.get(kept.GENERATION_KEY) == generation + 2
    assert figures.dashboard(span)["total"].orders == first.orders + 1


def test_the_beat_task_computes_the_default_range_only_when_no_current_figures_are_kept(
    world, client
):
    assert tasks.sales_dashboard_warm() is True
    assert tasks.sales_dashboard_warm() is False  # kept: nothing computed

    sample(world["samples"][0][0], world["reports"][0])  # a new row retires them

    assert tasks.sales_dashboard_warm() is True
    client.force_login(sales_member())
    with CaptureQueriesContext(connection) as queries:
        page = client.get(DASHBOARD)
    assert page.status_code == 200
    assert not any("GROUPING SETS" in q["sql"] for q in queries.captured_queries)
    assert (
        total_row(page)[2]
        == figures.dashboard_compute(figures.Range.of_days(*figures.Range.default_days()))[
            "total"
        ].samples
    )


@pytest.mark.django_db(transaction=True)
def test_figures_computed_on_two_connections_at_once_equal_those_on_one(
    world, settings, monkeypatch
):
    span = figures.Range.of_days(world["since"], world["until"])
    settings.SALES_DASHBOARD_QUERY_THREADS = 1
    one = figures.dashboard_compute(span)
    ran_on = []
    grouped = figures._leads_grouped

    def spy(span):
        ran_on.append((threading.current_thread().name, connections["default"]))
        return grouped(span)

    monkeypatch.setattr(figures, "_leads_grouped", spy)
    settings.SALES_DASHBOARD_QUERY_THREADS = 2

    two = figures.dashboard_compute(span)

    (thread, used), *_ = ran_on
    assert thread.startswith("dashboard") and used is not connection  # a thread of its own
    assert two == one
    assert used.connection is None  # the thread's connection is closed, not left open

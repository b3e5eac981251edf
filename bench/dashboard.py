"""Dashboard: the sales dashboard's answer time at 100,000 contacts and 10,000 orders.

    python -m bench.dashboard [--quick] [--contacts 100000] [--orders 10000] [--requests 20]

On the bench stack (bench/stack.py: gunicorn with production settings on a fresh database),
the rows are written with INSERT … SELECT generate_series (every column the generator does
not name gets its type's empty value): contacts, 1.2 sample requests and 0.2 enquiries
each, and the orders (70 % sold, in USD and EUR, some with promotion codes), spread over
180 days, 30 countries, 20 campaigns and 10 reports. A staff member's session then asks
for the dashboard one request at a time: a range asked for the first time (its figures
computed), then one of that page's charts (an image of its own URL, drawn from the kept
figures, as a browser asks for it after the page), and the default range
(SALES_DASHBOARD_DEFAULT_DAYS) asked again (its figures kept in the cache,
sales/selectors/kept.py), each reported on its own row; as the baseline in the same run,
the admin's index page (the same sign-in, middleware and template machinery, without the
figures)."""

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
import requests

from bench import stack
from bench.stack import Site, percentile

SECTION = "Dashboard"
GOAL_MS = 300
SEED = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from reports.models import Report
base = Report.objects.get(number={number})
licence = base.licences.first()
for n in range(1, 10):
    report = Report.objects.get(pk=base.pk)
    report.pk = None
    report.number = base.number + n
    report.slug = f"{{base.slug}}-{{n}}"
    report.save()
    licence.pk, licence.report = None, report
    licence.save()
    licence = base.licences.first()
user = get_user_model().objects.create_superuser("bench", "bench@example.org", "x")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def insert_series(conn, table: str, count: int, values: dict[str, str]) -> None:
    """`count` rows into `table`: the columns in `values` from SQL over `i` (1…count), every
    other NOT NULL column without a default its type's empty value."""
    columns = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default, is_identity "
        "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    empty = {"integer": "0", "smallint": "0", "bigint": "0", "boolean": "false", "numeric": "0"}
    names, exprs = [], []
    for name, kind, nullable, default, identity in columns:
        if identity == "YES":
            continue
        if name in values:
            names.append(name)
            exprs.append(values[name])
        elif nullable == "NO" and default is None:
            names.append(name)
            exprs.append("now()" if kind.startswith("timestamp") else empty.get(kind, "''"))
    conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - our own identifiers
        f"SELECT {', '.join(exprs)} FROM generate_series(1, {int(count)}) AS i"
    )


def days_ago(spread: str = "180") -> str:
    return f"now() - (random() * {spread}) * interval '1 day'"


def fill(db_url: str, contacts: int, orders: int) -> None:
    countries = (
        "(ARRAY['US','GB','DE','FR','JP','IN','CN','BR','CA','AU','IT','ES','NL','CH','SE',"
        "'KR','MX','PL','BE','AT','DK','NO','FI','IE','SG','ZA','AE','IL','NZ','PT'])"
    )
    campaign = "(ARRAY['','google','linkedin','newsletter','partner'])[1 + i % 5]"
    utm_campaign = "CASE WHEN i % 5 = 0 THEN '' ELSE 'wave-' || (i % 4) END"
    with psycopg.connect(db_url, autocommit=True) as conn:
        reports = [r for (r,) in conn.execute("SELECT id FROM reports_report ORDER BY id")]
        licences = dict(conn.execute("SELECT report_id, id FROM reports_licence"))
        report_of = f"(ARRAY{reports})[1 + i % {len(reports)}]"
        licence_of = f"(ARRAY{[licences[r] for r in reports]})[1 + i % {len(reports)}]"
        insert_series(conn, "enquiries_contact", contacts, {
            "email": "'c' || i || '@company' || (i % 7000) || '.example'",
            "name": "'Contact ' || i",
            "company": "'Company ' || (i % 7000)",
            "job_title": "CASE WHEN i % 4 = 0 THEN 'Director' ELSE 'Analyst' END",
            "country": f"{countries}[1 + i % 30]",
            "created_at": days_ago(),
            "updated_at": "now()",
        })  # fmt: skip
        first = conn.execute("SELECT min(id) FROM enquiries_contact").fetchone()[0]
        contact_of = f"{first} + (i::bigint * 7919) % {contacts}"
        insert_series(conn, "enquiries_samplerequest", contacts * 6 // 5, {
            "public_token": "md5(random()::text || i)",
            "contact_id": contact_of,
            "report_id": report_of,
            "email": "'x@example.org'", "name": "'X'", "company": "'X'",
            "country": f"{countries}[1 + i % 30]",
            "consent_version": "'2025-03'", "consent_at": "now()",
            "status": "'emailed'",
            "utm_source": campaign, "utm_campaign": utm_campaign,
            "created_at": days_ago(),
        })  # fmt: skip
        insert_series(conn, "enquiries_enquiry", contacts // 5, {
            "contact_id": f"{first} + (i::bigint * 104729) % {contacts}",
            "report_id": report_of,
            "type": "'pricing'", "question": "'Price?'", "status": "'answered'",
            "consent_version": "'2025-03'", "consent_at": "now()",
            "utm_source": campaign, "utm_campaign": utm_campaign,
            "created_at": days_ago(),
        })  # fmt: skip
        insert_series(conn, "reports_order", orders, {
            "reference": "'BENCH-' || i",
            "report_id": report_of,
            "licence_id": licence_of,
            "licence_kind": "'single'", "licence_name": "'Single user'",
            "price": "3900", "currency": "CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END",
            "price_source": "'list'",
            "promotion_code": "CASE WHEN i % 6 = 0 THEN 'CODE' || (i % 5) ELSE '' END",
            "buyer_email": "'b@example.org'", "buyer_name": "'B'", "buyer_company": "'B'",
            "contact_id": f"{first} + (i::bigint * 15485863) % {contacts}",
            "status": "CASE WHEN i % 10 < 7 THEN 'fulfilled' ELSE 'expired' END",
            "paid_at": f"CASE WHEN i % 10 < 7 THEN {days_ago()} END",
            "amount_paid": "CASE WHEN i % 10 < 7 THEN 3900 END",
            "utm_source": campaign, "utm_campaign": utm_campaign,
            "created_at": days_ago(),
        })  # fmt: skip
        conn.execute("ANALYZE")


def timed_get(http: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = http.get(url, timeout=60)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return elapsed


def run(contacts: int, orders: int, count: int) -> tuple[list[dict], dict]:
    """Three measurements, each interleaved with the baseline: the first request for a range
    (its figures computed by PostgreSQL: ranges of 90, 91, … days, each asked once), its
    by-country chart (drawn) and the default range asked again (figures kept in the cache,
    SALES_DASHBOARD_CACHE_SECONDS)."""
    details: dict = {"load_before": stack.machine_load()}
    with Site("dashboard", extra_env={"ADMIN_REQUIRE_2FA": "0"}) as site:
        site.seed()
        session_key = site.shell(SEED.format(number=stack.REPORT_NUMBER)).strip().splitlines()[-1]
        started = time.perf_counter()
        fill(site.db_url, contacts, orders)
        details["fill_seconds"] = round(time.perf_counter() - started, 1)
        http = requests.Session()
        http.cookies.set("sessionid", session_key)
        dashboard = f"{site.base}/admin/sales/lead/dashboard/"
        index = f"{site.base}/admin/"
        for url in (dashboard, index, dashboard, index):  # warm both workers
            timed_get(http, url)
        today = datetime.now(UTC).date()
        first, chart, again, base = [], [], [], []
        for n in range(count):
            since = today - timedelta(days=90 + n)
            first.append(timed_get(http, f"{dashboard}?since={since}&until={today}"))
            chart.append(
                timed_get(http, f"{dashboard}?since={since}&until={today}&chart=country-0")
            )
            base.append(timed_get(http, index))
            again.append(timed_get(http, dashboard))
    details.update(
        load_after=stack.machine_load(),
        first_ms=[round(t * 1000, 1) for t in first],
        chart_ms=[round(t * 1000, 1) for t in chart],
        again_ms=[round(t * 1000, 1) for t in again],
        index_ms=[round(t * 1000, 1) for t in base],
    )
    baseline = statistics.median(base) * 1000
    scale = f"{contacts:,} contacts and {orders:,} orders, {count} requests"
    rows = [
        _row(f"Sales dashboard, {scale}: first request for a range (computed)", first, baseline),
        _row(f"Sales dashboard, {scale}: a chart of that range (drawn)", chart, baseline),
        _row(f"Sales dashboard, {scale}: the same range again (kept figures)", again, baseline),
        stack.row(SECTION, "Admin index (baseline)", f"median {baseline:.0f} ms"),
    ]
    return rows, details


def _row(measure: str, times: list[float], baseline: float) -> dict:
    median, p95 = statistics.median(times) * 1000, percentile(times, 0.95) * 1000
    value = f"median {median:.0f} ms, p95 {p95:.0f} ms, {median / baseline:.1f}× the admin index"
    return stack.row(SECTION, measure, value, f"median ≤ {GOAL_MS} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 contacts (smoke run)")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.contacts, args.orders, args.requests = 2000, 200, 3
    rows, details = run(args.contacts, args.orders, args.requests)
    stack.write_rows("dashboard", rows, **details)
    for line in rows:
        print(f"{line['measure']}: {line['value']}")
    print(json.dumps({k: v for k, v in details.items() if "load" in k or "fill" in k}))


if __name__ == "__main__":
    main()

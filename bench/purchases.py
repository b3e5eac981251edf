"""Purchases: Stripe's webhook accepted, and webhook → download-link email.

    python -m bench.purchases [--quick] [--orders 60]

On the bench stack (bench/stack.py: gunicorn with production settings, a Celery worker, the
Stripe-compatible test server, an SMTP server): each buyer opens the purchase page and presses
Pay (our pending order, then a Checkout Session on the test server), pays on the test server,
and the signed `checkout.session.completed` event is posted to /stripe/webhook/ as Stripe
would. Timed: the webhook's answer (accepted, 200) and, one order at a time with a warm
worker, from posting the event to the email with the download link arriving."""

import argparse
import email
import email.policy
import json
import re
import statistics
import time

import requests

from bench import stack
from bench.stack import Site, percentile

SECTION = "Purchases"


class Buyer:
    """The purchase form (CSRF token and signed start time), posted by many buyers."""

    def __init__(self, site: Site):
        self.site = site
        self.url = f"{site.base}/purchase/{stack.REPORT_NUMBER}"
        self.http = requests.Session()
        page = self.http.get(self.url, timeout=10)
        page.raise_for_status()
        self.csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        self.started = re.search(r'name="form_started" value="([^"]+)"', page.text)[1]

    def checkout(self, n: int) -> tuple[str, str]:
        """Press Pay as buyer n; returns the buyer's email and the Checkout Session id."""
        address = f"buyer{n}@pharma{n}.example"
        response = self.http.post(
            self.url,
            data={
                "csrfmiddlewaretoken": self.csrf,
                "form_started": self.started,
                "licence": "single",
                "email": address,
                "name": f"Buyer {n}",
                "company": f"Pharma {n}",
                "vat_id": "",
                "promotion_code": "",
                "terms": "on",
            },
            headers={"Referer": self.url, "X-Forwarded-For": f"10.9.{n // 256}.{n % 256}"},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return address, response.headers["Location"].rsplit("/", 1)[-1]


def webhook_post(site: Site, event: dict) -> float:
    body, headers = site.stripe.fake.signed_request(event)
    started = time.perf_counter()
    response = requests.post(f"{site.base}/stripe/webhook/", data=body, headers=headers, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return elapsed


def download_link_arrived(site: Site, address: str) -> bool:
    for raw in site.inbox.messages(address):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",)).get_content()
        if "/download/" in body:
            return True
    return False


def wait_for_full_base(site: Site) -> None:
    """Both base PDFs rendered by the worker. Loading a report renders nothing (PDFs are made
    on first need), so the render is asked for here, as staff's re-render does."""
    import psycopg

    site.shell(
        "from reports.models import Report; from reports.services import documents; "
        f"documents.report_documents_refresh(report=Report.objects.get(number={stack.REPORT_NUMBER}))"
    )
    with psycopg.connect(site.db_url, autocommit=True) as conn:

        def ready():
            query = "SELECT count(*) FROM reports_reportdocument WHERE status = 'ready'"
            return conn.execute(query).fetchone()[0] >= 2

        stack.wait_for(ready, timeout=300, message="the base PDFs were not rendered")


def run(orders: int) -> tuple[list[dict], dict]:
    details: dict = {"load_before": stack.machine_load()}
    with Site("purchases", worker_concurrency=2, extra_env={"FORM_MIN_FILL_SECONDS": "1"}) as site:
        site.seed()
        wait_for_full_base(site)
        buyer = Buyer(site)
        time.sleep(1.5)  # the form's minimum fill time
        accepted, to_email = [], []
        for n in range(orders + 2):  # the first two warm the worker
            address, session_id = buyer.checkout(n)
            event = site.stripe.fake.session_pay(session_id, deliver=False)
            posted = time.perf_counter()
            accepted.append(webhook_post(site, event))
            stack.wait_for(
                lambda a=address: download_link_arrived(site, a),
                timeout=120,
                message=f"no download link for {address}",
                interval=0.005,
            )
            to_email.append(time.perf_counter() - posted)
        accepted, to_email = accepted[2:], to_email[2:]
    details.update(
        load_after=stack.machine_load(),
        accepted_ms=[round(a * 1000, 1) for a in accepted],
        to_email_s=[round(t, 3) for t in to_email],
    )
    rows = [
        stack.row(
            SECTION,
            f"Webhook accepted (200), {len(accepted)} events",
            f"p99 {percentile(accepted, 0.99) * 1000:.1f} ms, "
            f"median {statistics.median(accepted) * 1000:.1f} ms",
            "p99 ≤ 50 ms",
        ),
        stack.row(
            SECTION,
            f"Webhook → download-link email, {len(to_email)} orders one at a time",
            f"median {statistics.median(to_email):.2f} s, p95 {percentile(to_email, 0.95):.2f} s",
            "median ≤ 2 s",
        ),
    ]
    return rows, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 orders (smoke run)")
    parser.add_argument("--orders", type=int, default=60)
    args = parser.parse_args()
    rows, details = run(3 if args.quick else args.orders)
    stack.write_rows("purchases", rows, **details)
    for line in rows:
        print(f"{line['measure']}: {line['value']}")
    print(json.dumps({k: v for k, v in details.items() if "load" in k}))


if __name__ == "__main__":
    main()

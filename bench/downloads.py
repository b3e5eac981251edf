"""Downloads: a 2 MB stamped PDF streamed to 16 connections, and the report page meanwhile.

    python -m bench.downloads [--quick] [--seconds 10] [--no-nginx]

On the bench stack behind nginx as docs/deploy.md sets it up (gunicorn with production
settings, 2 sync workers for pages and 2 for /download/, nginx sending the counted file by
X-Accel-Redirect; --no-nginx: one gunicorn with 2 workers does everything): an order is fulfilled
with a 2 MB stamped copy of the full report (the real base, padded with an incompressible
attachment, stamped by reports/pdf/stamp.py) and a download link that allows unlimited
downloads (32,000). wrk presses its Download button (a POST with the CSRF token, as the link's page
does) over 16 connections while a second wrk reads the report page over 4 connections; both
figures come from the same seconds."""

import argparse
import json
import re
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench import stack
from bench.purchases import wait_for_full_base
from bench.stack import Site

SECTION = "Downloads"
TARGET_BYTES = 2 * 1024 * 1024

ORDER_SCRIPT = """
import io, os
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from pypdf import PdfReader, PdfWriter
from orders.models import Deliverable, Order
from reports.models import Report, ReportDocument
from reports.pdf.stamp import pdf_stamp
from orders.services import checkout, downloads

report = Report.objects.get(number={number})
full = ReportDocument.objects.filter(report=report, kind="full", status="ready").latest("id")
base = storages["private"].open(full.file_path).read()
writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
writer.add_attachment("padding.bin", os.urandom({target} - len(base) - 60_000))
padded = io.BytesIO()
writer.write(padded)
text = "Licensed to Acme Pharmaceuticals Ltd — Enterprise — bench order"
stamped = pdf_stamp(base=padded.getvalue(), text=text, metadata={{}}).pdf
terms = checkout.purchase_terms_list(licence=report.licences.get(kind="single"))
order = checkout.order_create(
    report=report, terms=terms, buyer_email="bench@acme.example", buyer_name="Bench",
    buyer_company="Acme",
)
path = storages["private"].save(f"orders/bench/{{order.reference}}.pdf", ContentFile(stamped))
Deliverable.objects.create(order=order, path=path)
Order.objects.filter(pk=order.pk).update(
    status=Order.Status.FULFILLED, paid_at=timezone.now(), fulfilled_at=timezone.now(),
    amount_paid=order.price, stripe_payment_intent_id=f"pi_bench_{{order.pk}}",
)
order.refresh_from_db()
_, url = downloads.download_link_create(order=order)
print("URL", url, len(stamped))
"""

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = "csrfmiddlewaretoken={token}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken={cookie}"
wrk.headers["Referer"] = "{referer}"
"""


def prepare_download(site: Site) -> tuple[str, int, dict]:
    output = site.shell(ORDER_SCRIPT.format(number=stack.REPORT_NUMBER, target=TARGET_BYTES))
    url, size = re.search(r"^URL (\S+) (\d+)$", output, re.M).groups()
    page = requests.get(url, timeout=10)
    page.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    check = requests.post(
        url,
        data={"csrfmiddlewaretoken": token},
        cookies=page.cookies,
        headers={"Referer": url},
        timeout=30,
    )
    assert check.status_code == 200 and check.content[:5] == b"%PDF-", check.status_code
    assert b"Licensed to Acme Pharmaceuticals" in check.content or len(check.content) == int(size)
    assert check.headers["Content-Disposition"].startswith("attachment;"), check.headers
    assert check.headers["Content-Type"] == "application/pdf", check.headers
    if site.nginx:
        # Behind nginx the site itself only counts the download and names the file.
        path = urlsplit(url).path
        direct = requests.post(
            f"http://127.0.0.1:{site.download_port}{path}",
            data={"csrfmiddlewaretoken": token},
            cookies=page.cookies,
            headers={"Referer": url, "Host": urlsplit(url).netloc},
            timeout=30,
        )
        assert direct.headers.get("X-Accel-Redirect", "").startswith(stack.NGINX_PRIVATE)
        assert direct.content == b"", len(direct.content)
    return url, int(size), {"token": token, "cookie": page.cookies["csrftoken"]}


def run(seconds: float, nginx: bool = True) -> tuple[list[dict], dict]:
    details: dict = {"load_before": stack.machine_load()}
    extra = {"DOWNLOAD_LINK_MAX_DOWNLOADS": "32000"}  # the field's limit; a 10 s run stays below
    with Site("downloads", worker_concurrency=1, extra_env=extra, nginx=nginx) as site:
        site.seed()
        wait_for_full_base(site)
        url, size, csrf = prepare_download(site)
        report_url = site.base + stack.REPORT_PATH
        requests.get(report_url, timeout=10)  # rendered once, then served from the cache
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "post.lua"
            script.write_text(POST_SCRIPT.format(referer=url, **csrf))
            page_result: dict = {}
            pages = threading.Thread(
                target=lambda: page_result.update(
                    stack.wrk(
                        report_url,
                        seconds=seconds,
                        connections=4,
                        threads=1,
                        headers={"Accept-Encoding": "gzip"},
                    )
                )
            )
            pages.start()
            downloads = stack.wrk(url, seconds=seconds, connections=16, script=str(script))
            pages.join()
    details.update(
        load_after=stack.machine_load(),
        pdf_bytes=size,
        downloads={k: v for k, v in downloads.items() if k != "raw"},
        report_page={k: v for k, v in page_result.items() if k != "raw"},
    )
    errors = downloads["non_2xx"] or downloads["socket_errors"]
    rows = [
        stack.row(
            SECTION,
            f"{size / 1048576:.1f} MB stamped PDF, 16 connections",
            f"{downloads['rps']:,.0f} downloads/s ({downloads['rps'] * size / 1048576:,.0f} MB/s), "
            f"p50 {downloads['p50_ms']:.0f} ms, p99 {downloads['p99_ms']:.0f} ms"
            + (f" (errors: {errors})" if errors else ""),
            "",
        ),
        stack.row(
            SECTION,
            "Report page meanwhile (4 more connections)",
            f"{page_result['rps']:,.0f} req/s, p99 {page_result['p99_ms']:.1f} ms",
            "p99 < 50 ms",
        ),
    ]
    return rows, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s (smoke run)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--no-nginx", action="store_true", help="gunicorn alone: pages and downloads share it"
    )
    args = parser.parse_args()
    rows, details = run(1 if args.quick else args.seconds, nginx=not args.no_nginx)
    stack.write_rows("downloads", rows, **details)
    for line in rows:
        print(f"{line['measure']}: {line['value']}")
    print(json.dumps({k: v for k, v in details.items() if k != "raw"}, indent=1))


if __name__ == "__main__":
    main()

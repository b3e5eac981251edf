"""The journeys that touch PDFs, with private storage in an S3 bucket (moto's server mode on
loopback) shared by the site (this process, and the live server) and a real worker process:
render, stamp, the sample email with its attachment, erasure of a contact, a paid download. The worker has its own
Redis broker so the session's filesystem-storage worker never takes these tasks."""

import io
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.storage import storages
from pypdf import PdfReader

from enquiries.models import SampleRequest
from orders.models import Deliverable, Order
from privacy.services import contact_erase
from reports.models import ReportDocument
from reports.services.documents import report_documents_refresh
from reports.services.seed import report_load_seed
from smosite.storage import NoPublicURL
from smosite.storage_url import private_storage_config
from tests.conftest import worker_env
from tests.enquiries.test_samples_journey import attachment, pdf_pages, post_sample_request
from tests.reports.orders_support import BUYER, link_in
from tests.reports.test_purchase_journey import hidden
from tests.support.broker import _use_broker
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers", "AuthenticatedUsers")


@pytest.fixture(scope="module")
def s3_bucket(s3_server):
    return s3_server.bucket_create()


@pytest.fixture(scope="module")
def s3_worker(django_db_setup, s3_server, s3_bucket, smtp_server, stripe_server, tmp_path_factory):
    broker = RedisServer().start()
    worker = WorkerProcess(
        log_path=tmp_path_factory.mktemp("s3-worker") / "worker.log",
        extra_env={
            **worker_env(smtp_server, stripe_server),
            "CELERY_BROKER_URL": broker.url(),
            "PRIVATE_STORAGE_URL": s3_server.storage_url(s3_bucket),
        },
    ).start()
    yield worker, broker
    worker.stop()
    broker.cleanup()


@pytest.fixture
def s3_site(s3_server, s3_bucket, s3_worker, settings):
    """This process (and the live server's threads) on the bucket and the worker's broker."""
    worker, broker = s3_worker
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(s3_server.storage_url(s3_bucket), default_location=""),
    }
    _use_broker(broker.url())
    yield worker
    _use_broker(settings.CELERY_BROKER_URL)


def in_bucket(s3_server, bucket, name: str) -> bool:
    return f"private/{name}" in s3_server.keys(bucket)


def local_files() -> dict[str, int]:
    """Files in the local private folder (earlier tests' worker writes there) and their
    modification times, to tell whether a test wrote any."""
    root = Path(settings.VAR_DIR) / "private"
    return {
        str(path.relative_to(root)): path.stat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture
def local_before():
    """Taken once the session's worker (local storage) finished whatever an earlier test in
    this process left it: a render of the same report still running would write the same
    file name during the test."""
    if WorkerProcess.shared is not None:
        WorkerProcess.shared.quiesce()
    return local_files()


def not_written_locally(name: str, before: dict[str, int]) -> bool:
    return local_files().get(name) == before.get(name)


def rendered_report(worker):
    """The seed report with both PDFs rendered by the worker into the bucket (loading renders
    nothing: PDFs are rendered on first need, so the render is asked for here)."""
    report = report_load_seed().report
    report_documents_refresh(report=report)
    wait_until(
        lambda: ReportDocument.objects.filter(report=report, status="ready").count() == 2,
        timeout=120,
        message=f"no render:\n{worker.tail()}",
    )
    return report


def test_the_worker_renders_into_the_bucket_and_nothing_is_public(
    s3_site, s3_server, s3_bucket, local_before
):
    report = rendered_report(s3_site)
    for document in ReportDocument.objects.filter(report=report):
        assert in_bucket(s3_server, s3_bucket, document.file_path)
        assert not_written_locally(document.file_path, local_before)
        body = s3_server.body(s3_bucket, f"private/{document.file_path}")
        assert body.startswith(b"%PDF") and len(body) == document.size_bytes
        grants = s3_server.client().get_object_acl(
            Bucket=s3_bucket, Key=f"private/{document.file_path}"
        )["Grants"]
        assert not [g for g in grants if g["Grantee"].get("URI", "").endswith(PUBLIC_GROUPS)]
        with pytest.raises(NoPublicURL):
            storages["private"].url(document.file_path)


def test_a_sample_request_is_stamped_into_the_bucket_and_emailed_with_the_pdf(
    client, s3_site, s3_server, s3_bucket, mailbox, local_before
):
    report = rendered_report(s3_site)
    assert post_sample_request(client, report, name="Jane S3").status_code == 302

    message = mailbox.wait_for(1, to="jane.doe@acme-pharma.example", timeout=90)[0]
    assert attachment(message).get_filename() == f"{report.slug}-sample.pdf"
    assert all("Prepared for Jane S3, Acme Pharma" in page for page in pdf_pages(message))
    request = wait_until(
        lambda: SampleRequest.objects.filter(status=SampleRequest.Status.EMAILED).first(),
        timeout=60,
        message=s3_site.tail(),
    )
    assert in_bucket(s3_server, s3_bucket, request.file_path)
    assert not_written_locally(request.file_path, local_before)
    stamped = s3_server.body(s3_bucket, f"private/{request.file_path}")
    assert stamped == attachment(message).get_content()


def test_erasing_a_contact_deletes_their_stamped_sample_from_the_bucket(
    client, s3_site, s3_server, s3_bucket, mailbox
):
    report = rendered_report(s3_site)
    assert post_sample_request(client, report, name="Erase Me").status_code == 302
    mailbox.wait_for(1, to="jane.doe@acme-pharma.example", timeout=90)
    request = wait_until(
        lambda: SampleRequest.objects.filter(status=SampleRequest.Status.EMAILED).first(),
        timeout=60,
        message=s3_site.tail(),
    )
    assert in_bucket(s3_server, s3_bucket, request.file_path)

    done = contact_erase(contact=request.contact)
    assert done["sample_requests"] == 1
    # Deleted by the worker's "privacy.files_delete" job, after commit.
    wait_until(lambda: not in_bucket(s3_server, s3_bucket, request.file_path), timeout=60)
    request.refresh_from_db()
    assert request.file_path == "" and "Erase Me" not in request.name
    # The report's own PDFs stay.
    for document in ReportDocument.objects.filter(report=report):
        assert in_bucket(s3_server, s3_bucket, document.file_path)


def test_a_buyer_pays_and_downloads_the_copy_stamped_into_the_bucket_through_the_site(
    s3_site, s3_server, s3_bucket, live_server, stripe, mailbox, settings, local_before
):
    report = rendered_report(s3_site)
    # Stripe returns the buyer to the live server (after the render: the site's address is
    # part of the PDF's content, and the worker renders with its own).
    settings.SITE_URL = live_server.url
    stripe.webhook_url = f"{live_server.url}/stripe/webhook/"
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/purchase/{report.number}?licence=single")
    form = {
        "csrfmiddlewaretoken": hidden(page.text, "csrfmiddlewaretoken"),
        "form_started": hidden(page.text, "form_started"),
        "licence": "single",
        **BUYER,
    }
    checkout = browser.post(page.url, data=form, headers={"Referer": page.url})
    browser.post(checkout.url, data={"outcome": "card"})  # pay; Stripe sends the webhook
    ready = [
        m
        for m in mailbox.wait_for(2, to=BUYER["email"], timeout=120)
        if "download" in m.get_body(preferencelist=("plain",)).get_content().lower()
        and "/download/" in m.get_body(preferencelist=("plain",)).get_content()
    ][0]
    order = Order.objects.get()
    deliverable = Deliverable.objects.get(order=order)
    assert in_bucket(s3_server, s3_bucket, deliverable.path)
    assert not_written_locally(deliverable.path, local_before)

    link = link_in(ready).replace("http://127.0.0.1:8000", live_server.url)  # the worker's SITE_URL
    landing = browser.get(link)
    pdf = browser.post(
        link,
        data={"csrfmiddlewaretoken": hidden(landing.text, "csrfmiddlewaretoken")},
        headers={"Referer": link},
    )
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content == s3_server.body(s3_bucket, f"private/{deliverable.path}")
    stamp = f"Licensed to Acme Pharma — Single user — order {order.reference}"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    assert all(stamp in " ".join((p.extract_text() or "").split()) for p in pages)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.downloads.count() == 1

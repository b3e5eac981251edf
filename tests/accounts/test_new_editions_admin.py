"""Staff publish a new edition in admin (the same service as any other route); who is told
what is decided once per person: the unique row, not a look-up, stops a second notice."""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.models import Job
from orders.models import EditionNotice, Order
from orders.services import editions, refunds
from reports.models import ReportEdition
from reports.services.seed import report_load_seed
from tests.reports.orders_support import fulfilled_order
from tests.support.jobs import run_job
from tests.support.staff import superuser

pytestmark = pytest.mark.django_db


@pytest.fixture
def report():
    return report_load_seed().report


def publish_in_admin(client, report, when, discount="20"):
    return client.post(
        "/admin/reports/reportedition/add/",
        {
            "report": report.pk,
            "edition_date": when.isoformat(),
            "upgrade_discount_percent": discount,
            "note": "New chapter on decentralised trials.",
        },
    )


def test_staff_publish_an_edition_in_admin_and_publishing_it_again_adds_nothing(client, report):
    client.force_login(superuser())
    page = client.get("/admin/reports/reportedition/add/").content.decode()
    assert 'name="upgrade_discount_percent" value="30"' in page  # the setting's default
    when = report.edition_date + timedelta(days=90)

    assert publish_in_admin(client, report, when).status_code == 302
    edition = ReportEdition.objects.get()
    report.refresh_from_db()
    assert (report.edition_date, edition.upgrade_discount_percent) == (when, 20)
    assert edition.published_by.username == "root"
    job = Job.objects.get(kind=editions.NOTICES_JOB, target_id=edition.pk)

    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE)
    assert publish_in_admin(client, report, when, discount="50").status_code == 302
    assert ReportEdition.objects.get().upgrade_discount_percent == 20  # the first one stands
    assert Job.objects.get(pk=job.pk).state == Job.State.PENDING  # asked again


def test_an_edition_dated_before_the_current_one_is_refused(client, report):
    client.force_login(superuser())
    response = publish_in_admin(client, report, report.edition_date - timedelta(days=1))
    assert response.status_code == 200
    assert "A new edition is dated after the current one" in response.content.decode()
    assert not ReportEdition.objects.exists()


def test_each_person_is_decided_once_however_often_the_job_runs(client, report):
    recent, _ = fulfilled_order(report, email="recent@example.com")
    older, _ = fulfilled_order(report, email="older@example.com")
    Order.objects.filter(pk=older.pk).update(paid_at=timezone.now() - relativedelta(months=14))
    refunded, _ = fulfilled_order(report, email="refunded@example.com")
    refunds.order_refund_record(order=refunded, amount_refunded=1, fully=True)
    with transaction.atomic():
        from reports.services.editions import report_edition_publish

        edition = report_edition_publish(
            report=report,
            edition_date=report.edition_date + timedelta(days=1),
            upgrade_discount_percent=40,
        )
    for _ in range(2):
        assert run_job(editions.NOTICES_JOB, edition.pk) == "done"
        Job.objects.filter(kind=editions.NOTICES_JOB).update(state=Job.State.PENDING)
    notices = {n.order_id: n for n in EditionNotice.objects.all()}
    assert set(notices) == {recent.pk, older.pk}
    assert notices[recent.pk].kind == "copy" and notices[recent.pk].seat is None
    offer = notices[older.pk]
    assert offer.kind == "offer"
    assert offer.offer_price == (older.licence.price * 60 / 100).quantize(offer.offer_price)
    assert Job.objects.filter(kind=editions.NOTICE_JOB).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        EditionNotice.objects.create(edition=edition, order=recent, kind="copy")

    client.force_login(superuser())
    page = client.get(f"/admin/orders/order/{older.pk}/change/").content.decode()
    assert "Edition notices" in page and "Upgrade offer sent" in page

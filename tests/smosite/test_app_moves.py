"""Contacts and the outbox left the leads app, orders left the catalogue (contacts/0001,
orders/0001, enquiries/0007, reports/0011): a database migrated to the state before the move
and holding every kind of row comes through it with nothing lost or changed, except what the
move means to change (which app a content type belongs to, the template path of order emails).
Permissions, the Sales group, admin log entries and an email's link to its order keep
working afterwards."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from common import jobs
from common.models import Job
from contacts.models import Contact, OutboundEmail
from enquiries.models import Enquiry, EnquiryReply, SampleRequest
from orders.models import (
    Deliverable,
    DownloadLog,
    Order,
    OrderEvent,
    OrderReferenceCounter,
    StripeEvent,
)
from tests.factories import (
    ContactFactory,
    EnquiryFactory,
    LicenceFactory,
    ReportFactory,
    SampleRequestFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Today's main before the move.
BEFORE = [
    ("common", "0004_private_file_deletions"),
    ("enquiries", "0006_privacy_typed_details_consent_time_quote_revocation"),
    ("reports", "0010_search_ranking_and_estimates"),
    ("contacts", None),
    ("orders", None),
]
MOVED = {
    "contacts": ("enquiries", ["contact", "outboundemail"]),
    "orders": (
        "reports",
        [
            "order",
            "orderevent",
            "orderreferencecounter",
            "stripeevent",
            "deliverable",
            "downloadlink",
            "downloadlog",
        ],
    ),
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    ContentType.objects.clear_cache()


# The move itself. Later migrations may add columns to the moved tables (orders/0002 adds
# the seat of a download link): the rows are compared at the move, then the database is
# brought up to date for the checks through today's models.
MOVE = [
    ("contacts", "0001_contacts_from_enquiries"),
    ("orders", "0001_orders_from_reports"),
    ("enquiries", "0007_contacts_to_contacts"),
    ("reports", "0011_orders_to_orders"),
]


def latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def database_rows() -> dict[str, list[tuple]]:
    """Every row of every table (but Django's record of applied migrations), in key order."""
    with connection.cursor() as cursor:
        tables = sorted(
            t for t in connection.introspection.table_names(cursor) if t != "django_migrations"
        )
        rows = {}
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalog
            rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def old_model(app_label: str, name: str):
    """A model as the migrations left it at BEFORE (the database's state there)."""
    state = MigrationExecutor(connection).loader.project_state([t for t in BEFORE if t[1]])
    return state.apps.get_model(app_label, name)


def old_content_type(app_label: str, model: str) -> ContentType:
    return ContentType.objects.get(app_label=app_label, model=model)


def fill_at_the_old_state():
    """One row of every moved model and of everything that points at them. The tables are the
    same before and after the move (only Django's state differs), so today's models write
    them; content types are looked up under the app that owned them then."""
    now = timezone.now()
    report = ReportFactory()
    licence = LicenceFactory(report=report, price=Decimal("3900.00"))
    buyer = ContactFactory(email="buyer@acme.example")
    staff = UserFactory(is_staff=True)
    order = Order.objects.create(
        reference="SMO-2026-000001",
        report=report,
        licence=licence,
        licence_kind=licence.kind,
        licence_name=licence.get_kind_display(),
        price=licence.price,
        currency="USD",
        buyer_email=buyer.email,
        buyer_name=buyer.name,
        buyer_company="Acme",
        contact=buyer,
        status=Order.Status.FULFILLED,
        amount_paid=licence.price,
        paid_at=now,
        utm_source="newsletter",
        utm_campaign="spring",
        landing_page="/dental-r1?utm_source=newsletter",
    )
    OrderReferenceCounter.objects.create(year=2026, last_value=1)
    event = StripeEvent.objects.create(
        stripe_id="evt_1", type="checkout.session.completed", payload={"data": {}}, order=order
    )
    OrderEvent.objects.create(order=order, kind="paid", stripe_event=event, actor=staff)
    Deliverable.objects.create(order=order, path="orders/1/SMO-2026-000001.pdf")
    # Written through the model as it was then: today's has columns added later (its seat).
    link = old_model("reports", "DownloadLink").objects.create(
        order_id=order.pk,
        token_hash="a" * 64,
        expires_at=now + timedelta(days=7),
        max_downloads=5,
    )
    DownloadLog.objects.create(link_id=link.pk, order=order, ip="192.0.2.0")

    order_type = old_content_type("reports", "order")
    receipt = OutboundEmail.objects.create(
        to=buyer.email,
        from_email="shop@example.com",
        subject="Your receipt",
        template="reports/email/order_receipt",
        body_text="Thank you",
        contact=buyer,
        related_type=order_type,
        related_id=str(order.pk),
        dedupe_key=f"receipt:{order.reference}",
        message_id=OutboundEmail.new_message_id(),
    )
    Job.objects.create(kind="mail.send", target_id=receipt.pk, state="done")
    Job.objects.create(kind="order.deliverable", target_id=order.pk, state="done")

    lead = ContactFactory(email="lead@clinic.example")
    sample = SampleRequestFactory(contact=lead, report=report)
    sample_email = OutboundEmail.objects.create(
        to=lead.email,
        from_email="shop@example.com",
        subject="Your sample",
        template="enquiries/email/sample_delivery",
        body_text="Attached",
        contact=lead,
        related_type=old_content_type("enquiries", "samplerequest"),
        related_id=str(sample.pk),
        message_id=OutboundEmail.new_message_id(),
    )
    enquiry = EnquiryFactory(contact=lead, report=report)
    EnquiryReply.objects.create(
        enquiry=enquiry, author=staff, subject="Re: pricing", body="Hello", email=sample_email
    )

    # The Sales-like group holds permissions of the moved models; the admin log names an order.
    group = Group.objects.create(name="Privacy officers")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="enquiries", codename="erase_contact"),
        Permission.objects.get(content_type__app_label="reports", codename="view_order"),
    )
    officer = UserFactory(is_staff=True, username="officer")
    officer.groups.add(group)
    LogEntry.objects.create(
        user=staff,
        content_type=order_type,
        object_id=str(order.pk),
        object_repr=str(order.reference),
        action_flag=CHANGE,
        change_message="Resent the download link.",
    )
    return {"order": order, "receipt": receipt, "sample": sample, "officer": officer}


def test_a_database_of_todays_main_moves_its_apps_with_nothing_lost():
    migrate(BEFORE)
    # Before the move the moved models' content types belong to their old apps.
    for source, models in MOVED.values():
        for model in models:
            assert ContentType.objects.filter(app_label=source, model=model).exists(), model
    made = fill_at_the_old_state()
    before = database_rows()
    type_ids = {
        (ct.app_label, ct.model): ct.pk
        for ct in ContentType.objects.filter(app_label__in=["enquiries", "reports"])
    }

    migrate(MOVE)
    after = database_rows()

    # The content types of moved models changed app, keeping their ids; nothing else did.
    moved_types = {}
    for target, (source, models) in MOVED.items():
        for model in models:
            pk = type_ids[(source, model)]
            moved_types[pk] = (target, model)
            assert ContentType.objects.get(pk=pk).app_label == target
    expected_types = [
        (pk, *moved_types[pk]) if pk in moved_types else (pk, app, model)
        for pk, app, model in before["django_content_type"]
    ]
    assert after.pop("django_content_type") == sorted(expected_types, key=repr)
    before.pop("django_content_type")

    # Order emails name their template where it now lives; every other column is as it was.
    columns = [
        c.name
        for c in connection.introspection.get_table_description(
            connection.cursor(), "enquiries_outboundemail"
        )
    ]
    template = columns.index("template")

    def renamed(row):
        row = list(row)
        row[template] = row[template].replace("reports/email/order_", "orders/email/order_")
        return tuple(row)

    expected_emails = sorted((renamed(r) for r in before.pop("enquiries_outboundemail")), key=repr)
    assert after.pop("enquiries_outboundemail") == expected_emails
    assert after == before  # every other row of every table, unchanged

    migrate(latest())
    # And it all still works through today's models.
    order = Order.objects.get(pk=made["order"].pk)
    assert order.contact.email == "buyer@acme.example"
    assert order.utm_source == "newsletter"
    assert order.events.get().stripe_event.stripe_id == "evt_1"
    assert order.download_links.get().downloads.count() == 1
    assert order.deliverable.path.endswith(".pdf")
    receipt = OutboundEmail.objects.get(pk=made["receipt"].pk)
    assert receipt.related == order
    assert receipt.template == "orders/email/order_receipt"
    assert OutboundEmail.objects.get(to="lead@clinic.example").related == made["sample"]
    assert SampleRequest.objects.get().contact.emails.count() == 1
    assert Enquiry.objects.get().contact == Contact.objects.get(email="lead@clinic.example")
    assert EnquiryReply.objects.get().email.subject == "Your sample"
    officer = type(made["officer"]).objects.get(pk=made["officer"].pk)
    assert officer.has_perm("contacts.erase_contact")
    assert officer.has_perm("orders.view_order")
    assert LogEntry.objects.get().get_edited_object() == order
    for job in Job.objects.all():  # stored kinds still name a registered kind and its model
        assert jobs.KINDS[job.kind].model.objects.filter(pk=job.target_id).exists()

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
    Order,
)
from reports.models import Licence
from sales import receivers as sales_receivers
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
# Right after the move: later migrations (new columns, new tables) are not the move's doing.
AFTER = [
    ("common", "0004_private_file_deletions"),
    ("contacts", "0001_contacts_from_enquiries"),
    ("enquiries", "0007_contacts_to_contacts"),
    ("reports", "0011_orders_to_orders"),
    ("orders", "0001_orders_from_reports"),
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


def old_content_type(app_label: str, model: str) -> ContentType:
    return ContentType.objects.get(app_label=app_label, model=model)


def old_model(app_label: str, name: str):
    """A model as it was at BEFORE (later migrations may have added columns to its table)."""
    applied = [node for node in BEFORE if node[1] is not None]
    state = MigrationExecutor(connection).loader.project_state(applied)
    return state.apps.get_model(app_label, name)


def old_row(app_label_: str, model_name_: str, factory_=None, /, **values):
    """A row written through the model as it was at BEFORE: `values` (attnames), the rest
    from `factory`'s defaults (built, not saved, by today's factory), so that columns later
    migrations add to any table never reach the old one."""
    model = old_model(app_label_, model_name_)
    built = factory_.build(**values) if factory_ else None
    row = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.attname in values:
            row[field.attname] = values[field.attname]
        elif field.name in values:
            value = values[field.name]
            row[field.attname] = getattr(value, "pk", value)
        elif built is not None and hasattr(built, field.attname):
            row[field.attname] = getattr(built, field.attname)
    return model.objects.create(**row)


def fill_at_the_old_state():
    """One row of every moved model and of everything that points at them, written through
    the models as they were then (`old_row`); content types are looked up under the app that
    owned them then."""
    now = timezone.now()
    category = old_row("reports", "Category", name="Dental", slug="dental")
    report = old_row("reports", "Report", ReportFactory, category_id=category.pk)
    licence = old_row(
        "reports", "Licence", LicenceFactory, report_id=report.pk, price=Decimal("3900.00")
    )
    buyer = old_row("enquiries", "Contact", ContactFactory, email="buyer@acme.example")
    staff = UserFactory(is_staff=True)
    order = old_row(
        "reports",
        "Order",
        reference="SMO-2026-000001",
        report_id=report.pk,
        licence_id=licence.pk,
        licence_kind=licence.kind,
        licence_name="Single user",
        price=licence.price,
        currency="USD",
        buyer_email=buyer.email,
        buyer_name=buyer.name,
        buyer_company="Acme",
        contact_id=buyer.pk,
        status=Order.Status.FULFILLED,
        amount_paid=licence.price,
        paid_at=now,
        utm_source="newsletter",
        utm_campaign="spring",
        landing_page="/dental-r1?utm_source=newsletter",
    )
    old_row("reports", "OrderReferenceCounter", year=2026, last_value=1)
    event = old_row(
        "reports",
        "StripeEvent",
        stripe_id="evt_1",
        type="checkout.session.completed",
        payload={"data": {}},
        order_id=order.pk,
    )
    old_row(
        "reports",
        "OrderEvent",
        order_id=order.pk,
        kind="paid",
        stripe_event_id=event.pk,
        actor_id=staff.pk,
    )
    old_row("reports", "Deliverable", order_id=order.pk, path="orders/1/SMO-2026-000001.pdf")
    link = old_row(
        "reports",
        "DownloadLink",
        order_id=order.pk,
        token_hash="a" * 64,
        expires_at=now + timedelta(days=7),
        max_downloads=5,
    )
    old_row("reports", "DownloadLog", link_id=link.pk, order_id=order.pk, ip="192.0.2.0")

    order_type = old_content_type("reports", "order")
    receipt = old_row(
        "enquiries",
        "OutboundEmail",
        to=buyer.email,
        from_email="shop@example.com",
        subject="Your receipt",
        template="reports/email/order_receipt",
        body_text="Thank you",
        contact_id=buyer.pk,
        related_type_id=order_type.pk,
        related_id=str(order.pk),
        dedupe_key=f"receipt:{order.reference}",
        message_id=OutboundEmail.new_message_id(),
    )
    old_row("common", "Job", kind="mail.send", target_id=receipt.pk, state="done")
    old_row("common", "Job", kind="order.deliverable", target_id=order.pk, state="done")

    lead = old_row("enquiries", "Contact", ContactFactory, email="lead@clinic.example")
    sample = old_row(
        "enquiries",
        "SampleRequest",
        SampleRequestFactory,
        contact_id=lead.pk,
        report_id=report.pk,
        email=lead.email,
    )
    sample_email = old_row(
        "enquiries",
        "OutboundEmail",
        to=lead.email,
        from_email="shop@example.com",
        subject="Your sample",
        template="enquiries/email/sample_delivery",
        body_text="Attached",
        contact_id=lead.pk,
        related_type_id=old_content_type("enquiries", "samplerequest").pk,
        related_id=str(sample.pk),
        message_id=OutboundEmail.new_message_id(),
    )
    enquiry = old_row(
        "enquiries", "Enquiry", EnquiryFactory, contact_id=lead.pk, report_id=report.pk
    )
    old_row(
        "enquiries",
        "EnquiryReply",
        enquiry_id=enquiry.pk,
        author_id=staff.pk,
        subject="Re: pricing",
        body="Hello",
        email_id=sample_email.pk,
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
    with sales_receivers.disconnected():  # sales' tables come later than this state
        made = fill_at_the_old_state()
    before = database_rows()
    type_ids = {
        (ct.app_label, ct.model): ct.pk
        for ct in ContentType.objects.filter(app_label__in=["enquiries", "reports"])
    }

    migrate(AFTER)
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
    for table in ("sales_lead", "sales_leadcall"):  # an app that came later: created empty
        assert after.pop(table, []) == []
    assert after == before  # every other row of every table, unchanged

    # And it all still works through today's models.
    migrate(latest())
    order = Order.objects.get(pk=made["order"].pk)
    assert order.contact.email == "buyer@acme.example"
    assert order.utm_source == "newsletter"
    assert order.events.get().stripe_event.stripe_id == "evt_1"
    assert order.download_links.get().downloads.count() == 1
    assert order.deliverable.path.endswith(".pdf")
    receipt = OutboundEmail.objects.get(pk=made["receipt"].pk)
    assert receipt.related == order
    assert receipt.template == "orders/email/order_receipt"
    assert OutboundEmail.objects.get(to="lead@clinic.example").related.pk == made["sample"].pk
    assert SampleRequest.objects.get().contact.emails.count() == 1
    assert Enquiry.objects.get().contact == Contact.objects.get(email="lead@clinic.example")
    assert EnquiryReply.objects.get().email.subject == "Your sample"
    officer = type(made["officer"]).objects.get(pk=made["officer"].pk)
    assert officer.has_perm("contacts.erase_contact")
    assert officer.has_perm("orders.view_order")
    assert LogEntry.objects.get().get_edited_object() == order
    for job in Job.objects.all():  # stored kinds still name a registered kind and its model
        assert jobs.KINDS[job.kind].model.objects.filter(pk=job.target_id).exists()
    # Licences gained a price per currency later (reports/0014): the USD price stays, EUR
    # and GBP come from CURRENCY_FALLBACK_RATES (0.92 and 0.79), rounded to a whole ten.
    licence = Licence.objects.get()
    assert (licence.price, licence.price_eur, licence.price_gbp) == (3900, 3590, 3080)

"""The Sales group's permission set: created by the migration, re-applied by the idempotent
sync service and command, and never including edits of reports, prices or payments."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from enquiries.models import ReplyTemplate
from enquiries.services.sales_group import sales_group_sync

pytestmark = pytest.mark.django_db


def codenames(group):
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_migration_creates_sales_group_with_lead_permissions_and_read_only_catalogue():
    perms = codenames(Group.objects.get(name="Sales"))
    assert {
        "enquiries.view_enquiry",
        "enquiries.change_enquiry",
        "enquiries.add_enquiryreply",
        "contacts.view_contact",
        "contacts.change_contact",
        "reports.view_report",
        "reports.view_licence",
    } <= perms
    assert not {p for p in perms if p.startswith("reports.") and not p.startswith("reports.view_")}
    assert "enquiries.delete_enquiry" not in perms


def test_migration_seeds_the_canned_replies():
    names = set(ReplyTemplate.objects.values_list("name", flat=True))
    assert {"Price quote", "Licence explanation", "Custom scope"} <= names


def test_sync_restores_a_tampered_group_and_is_idempotent():
    group = Group.objects.get(name="Sales")
    expected = codenames(sales_group_sync())
    from django.contrib.auth.models import Permission

    group.permissions.add(Permission.objects.get(codename="change_licence"))
    group.permissions.remove(Permission.objects.get(codename="view_enquiry"))
    assert codenames(sales_group_sync()) == expected
    assert codenames(sales_group_sync()) == expected
    assert "reports.change_licence" not in expected


def test_sync_creates_the_group_when_missing(capsys):
    Group.objects.filter(name="Sales").delete()
    call_command("sync_sales_group")
    assert "enquiries.change_enquiry" in codenames(Group.objects.get(name="Sales"))
    assert "enquiries.change_enquiry" in capsys.readouterr().out


def test_sales_sees_reports_read_only_in_the_real_admin_and_cannot_post_changes(client):
    from django.urls import reverse

    from reports.models import Report
    from tests.factories import LicenceFactory, UserFactory
    from tests.reports.test_admin import report_form

    seller = UserFactory(username="sasha")
    seller.groups.add(Group.objects.get(name="Sales"))
    licence = LicenceFactory()
    report = licence.report
    client.force_login(seller)
    url = reverse("admin:reports_report_change", args=[report.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # view-only: no save button

    data = report_form(
        report.category,
        number=str(report.number),
        slug=report.slug,
        title="Renamed by sales",
        status="published",
    )
    assert client.post(url, data).status_code == 403
    report.refresh_from_db()
    assert report.title != "Renamed by sales"
    # Prices are inlines of the report: the refused post above changed none of them.
    assert Report.objects.filter(pk=report.pk, licences__price=licence.price).exists()
    # Orders are visible to sales, their payment details are not editable.
    assert seller.has_perm("orders.view_order") and not seller.has_perm("orders.change_order")
    assert not seller.has_perm("orders.view_stripeevent")


def test_migrate_keeps_the_sales_group_in_step_with_new_models():
    """`migrate` re-applies the set (post_migrate), so later models need no manual step."""
    perms = codenames(Group.objects.get(name="Sales"))
    assert {"contacts.view_outboundemail", "orders.view_order"} <= perms

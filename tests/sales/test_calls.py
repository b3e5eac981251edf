"""Leads to call: owners by round-robin among the Sales group, a due date, call outcomes
logged by staff, and a lead who buys leaving the list; what a Sales user may and may not do."""

from datetime import timedelta

import pytest
from django.urls import reverse

from orders.models import Order
from privacy.services.erasure import contact_erase
from privacy.services.export import contact_data_export
from sales.models import Lead, LeadCall
from sales.services import scoring
from sales.services.calls import lead_call_log
from tests.factories import LicenceFactory, ReportFactory, UserFactory
from tests.support.staff import sales_member, superuser

from .rows import contact, enquiry, order, sample

pytestmark = pytest.mark.django_db
LIST = reverse("admin:sales_lead_changelist")
DASHBOARD = reverse("admin:sales_lead_dashboard")


@pytest.fixture
def threshold(settings):
    """Only leads with an enquiry reach the list: a company address (15) + an enquiry (25)."""
    settings.LEAD_CALL_MIN_SCORE = 40
    settings.LEAD_CALL_DUE_HOURS = 48
    return settings.LEAD_CALL_MIN_SCORE


def hot_lead(email: str, report, *, samples: int = 0) -> Lead:
    person = contact(email)
    enquiry(person, report)
    for _ in range(samples):
        sample(person, report)
    return person


def test_new_leads_above_the_threshold_get_owners_in_turn_and_a_due_date(dns_server, threshold):
    ana, ben, cai = sales_member("ana"), sales_member("ben"), sales_member("cai")
    sales_member("dee").groups.clear()  # not in Sales: never picked
    away = sales_member("eve")
    away.is_active = False
    away.save()
    report = ReportFactory()
    # Scores 70, 60, 50, 40 (repeat samples), listed highest first.
    people = [hot_lead(f"p{n}@acme-pharma.example", report, samples=4 - n) for n in range(4)]
    cold = contact("cold@acme-pharma.example")

    scoring.leads_rescore()

    leads = [Lead.objects.get(contact=p) for p in people]
    assert [lead.score for lead in leads] == [70, 60, 50, 40]
    assert [lead.owner for lead in leads] == [ana, ben, cai, ana]
    for lead in leads:
        assert lead.due_at == lead.listed_at + timedelta(hours=48)
    assert Lead.objects.get(contact=cold).owner is None

    # The next run hands the next new lead to the one after the last picked; a rescore does
    # not hand out listed leads again.
    later = hot_lead("later@acme-pharma.example", report)
    scoring.leads_rescore()
    assert Lead.objects.get(contact=later).owner == ben
    assert [Lead.objects.get(contact=p).owner for p in people] == [ana, ben, cai, ana]


def test_the_call_list_is_sorted_by_score_and_shows_why(client, dns_server, threshold):
    seller = sales_member()
    report = ReportFactory()
    low = hot_lead("low@acme-pharma.example", report)
    high = hot_lead("high@acme-pharma.example", report, samples=3)
    below = contact("below@acme-pharma.example")
    scoring.leads_rescore()
    client.force_login(seller)

    page = client.get(LIST)

    assert page.status_code == 200
    text = page.content.decode()
    assert text.index("high@acme-pharma.example") < text.index("low@acme-pharma.example")
    assert below.email not in text
    assert "sent an enquiry (+25)" in text and "3 sample requests (+20)" in text
    assert [row.contact for row in page.context["cl"].result_list] == [high, low]


def test_staff_log_a_call_outcome_and_a_lead_who_buys_leaves_the_list(
    client, dns_server, threshold
):
    seller = sales_member()
    report = ReportFactory()
    person = hot_lead("buyer@acme-pharma.example", report)
    scoring.leads_rescore()
    lead = Lead.objects.get(contact=person)
    client.force_login(seller)
    assert client.get(reverse("admin:sales_lead_change", args=[lead.pk])).status_code == 200

    response = client.post(
        reverse("admin:sales_lead_call", args=[lead.pk]),
        {"outcome": "quote_sent", "note": "Sent the multi-user price."},
    )

    assert response.status_code == 302
    call = LeadCall.objects.get(lead=lead)
    assert (call.outcome, call.author, call.note) == (
        "quote_sent",
        seller,
        "Sent the multi-user price.",
    )
    lead.refresh_from_db()
    assert lead.last_outcome == "quote_sent" and lead.last_called_at == call.created_at
    assert "Sent a quote" in client.get(LIST).content.decode()

    order(person, report, status=Order.Status.FULFILLED)
    assert person.email not in client.get(LIST).content.decode()  # at once, before a rescore
    scoring.leads_rescore_stale()
    assert Lead.objects.get(pk=lead.pk).bought_at is not None


def test_a_call_needs_an_outcome_from_the_list(client, dns_server, threshold):
    person = hot_lead("x@acme-pharma.example", ReportFactory())
    scoring.leads_rescore()
    lead = Lead.objects.get(contact=person)
    client.force_login(sales_member())
    client.post(reverse("admin:sales_lead_call", args=[lead.pk]), {"outcome": "maybe"})
    assert not LeadCall.objects.exists()


def test_sales_see_the_dashboard_and_the_call_list_but_cannot_change_what_they_lack(
    client, dns_server, threshold
):
    seller = sales_member()
    report = ReportFactory()
    LicenceFactory(report=report)
    person = hot_lead("x@acme-pharma.example", report)
    scoring.leads_rescore()
    lead = Lead.objects.get(contact=person)
    client.force_login(seller)

    assert client.get(DASHBOARD).status_code == 200
    assert client.get(LIST).status_code == 200
    index = client.get(reverse("admin:index")).content.decode()
    assert "Leads to call" in index

    # No user, group or permission admin; no catalogue prices; no score edits.
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    group_change = reverse("admin:auth_group_change", args=[seller.groups.get().pk])
    assert client.post(group_change, {"name": "Sales", "permissions": []}).status_code == 403
    report_url = reverse("admin:reports_report_change", args=[report.pk])
    assert client.post(report_url, {"title": "Changed"}).status_code == 403
    report.refresh_from_db()
    assert report.title != "Changed"
    change = reverse("admin:sales_lead_change", args=[lead.pk])
    client.post(change, {"score": 999, "owner": seller.pk, "due_at_0": "", "due_at_1": ""})
    assert Lead.objects.get(pk=lead.pk).score == lead.score
    assert client.post(reverse("admin:sales_lead_delete", args=[lead.pk])).status_code == 403


def test_staff_outside_sales_see_neither_the_dashboard_nor_the_list(client):
    client.force_login(UserFactory(username="outsider"))
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(LIST).status_code == 403


def test_a_superuser_sees_the_dashboard(client):
    client.force_login(superuser())
    assert client.get(DASHBOARD).status_code == 200


def test_erasing_a_contact_empties_the_lead_and_the_call_notes(dns_server, threshold):
    person = hot_lead("erase.me@acme-pharma.example", ReportFactory())
    scoring.leads_rescore()
    lead = Lead.objects.get(contact=person)
    lead_call_log(lead=lead, outcome="reached", author=sales_member(), note="Mobile 0171 555")
    exported = contact_data_export(contact=person)["lead"]
    assert exported["score"] == lead.score and exported["calls"][0]["note"] == "Mobile 0171 555"

    contact_erase(contact=person)

    lead.refresh_from_db()
    assert (lead.score, lead.reasons) == (0, [])
    assert LeadCall.objects.get(lead=lead).note == ""
    scoring.leads_rescore()
    assert Lead.objects.get(pk=lead.pk).score == 0

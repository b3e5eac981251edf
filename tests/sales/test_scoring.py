"""A lead's score and reasons follow the rules (README, "Lead score"), with the email
domain's MX record asked of a real DNS server on loopback."""

import pytest
from django.core.cache import cache

from orders.models import Order
from sales.models import Lead
from sales.services import scoring
from sales.services.mx import Mx, domain_mx
from tests.factories import ReportFactory

from .rows import contact, enquiry, order, sample

pytestmark = pytest.mark.django_db


def rules(lead: Lead) -> dict[str, int]:
    return {r["rule"]: r["points"] for r in lead.reasons}


def test_every_rule_scores_its_points_with_its_reason(dns_server, settings):
    report, other = ReportFactory(), ReportFactory()
    ceo = contact("ceo@bigpharma.example", job_title="Chief Executive Officer", country="US")
    sample(ceo, report, utm_source="linkedin", utm_campaign="spring")
    sample(ceo, other)
    sample(ceo, report)
    enquiry(ceo, report)
    order(ceo, report, status=Order.Status.PENDING)

    scoring.leads_rescore()

    lead = Lead.objects.get(contact=ceo)
    expected = {
        "company_email": settings.LEAD_SCORE_COMPANY_EMAIL,
        "senior_title": settings.LEAD_SCORE_SENIOR_TITLE,
        "target_country": settings.LEAD_SCORE_TARGET_COUNTRY,
        "repeat_samples": min(
            2 * settings.LEAD_SCORE_REPEAT_SAMPLE, settings.LEAD_SCORE_REPEAT_SAMPLES_MAX
        ),
        "enquiry": settings.LEAD_SCORE_ENQUIRY,
        "campaign": settings.LEAD_SCORE_CAMPAIGN,
        "abandoned_checkout": settings.LEAD_SCORE_ABANDONED_CHECKOUT,
    }
    assert rules(lead) == expected
    assert lead.score == sum(expected.values())
    assert not lead.mx_flagged
    assert "3 sample requests" in lead.reasons_text
    assert dns_server.queries == ["bigpharma.example"]


def test_free_mail_junior_title_other_country_scores_only_the_free_mail_rule(dns_server, settings):
    person = contact("someone@gmail.com", job_title="Analyst", country="IN")
    sample(person, ReportFactory(), job_title="Research analyst")

    scoring.leads_rescore()

    lead = Lead.objects.get(contact=person)
    assert rules(lead) == {"free_mail": settings.LEAD_SCORE_FREE_MAIL}
    assert lead.score == settings.LEAD_SCORE_FREE_MAIL
    assert dns_server.queries == []  # free-mail domains are not asked


@pytest.mark.parametrize(
    "email", ["a@no-such-domain.example", "b@null-mx.example", "c@bare.example"]
)
def test_a_company_domain_without_mx_is_flagged_and_loses_points(dns_server, settings, email):
    person = contact(email)

    scoring.leads_rescore()

    lead = Lead.objects.get(contact=person)
    assert lead.mx_flagged
    assert rules(lead) == {
        "company_email": settings.LEAD_SCORE_COMPANY_EMAIL,
        "no_mx": settings.LEAD_SCORE_NO_MX,
    }


def test_mx_answers_are_cached_and_a_timeout_is_neither_flagged_nor_cached(dns_server):
    assert domain_mx("bigpharma.example") is Mx.FOUND
    assert domain_mx("BigPharma.example.") is Mx.FOUND
    assert dns_server.queries == ["bigpharma.example"]
    assert domain_mx("slow.example") is Mx.UNKNOWN
    assert cache.get("lead-mx:slow.example") is None
    person = contact("x@slow.example")
    scoring.leads_rescore()
    assert not Lead.objects.get(contact=person).mx_flagged
    assert dns_server.queries.count("slow.example") >= 2  # asked again: nothing was kept


def test_a_buyer_has_no_abandoned_checkout_and_is_marked_bought(dns_server, settings):
    buyer = contact("buyer@acme-pharma.example")
    report = ReportFactory()
    order(buyer, report, status=Order.Status.ABANDONED)
    paid = order(buyer, report, status=Order.Status.FULFILLED)

    scoring.leads_rescore()

    lead = Lead.objects.get(contact=buyer)
    assert "abandoned_checkout" not in rules(lead)
    assert lead.bought_at == paid.paid_at


def test_weights_are_settings(dns_server, settings):
    settings.LEAD_SCORE_ENQUIRY = 77
    settings.LEAD_SENIOR_TITLE_WORDS = ["boss"]
    person = contact("p@acme-pharma.example", job_title="Big Boss")
    enquiry(person, ReportFactory())

    scoring.leads_rescore()

    assert rules(Lead.objects.get(contact=person)) == {
        "company_email": settings.LEAD_SCORE_COMPANY_EMAIL,
        "senior_title": settings.LEAD_SCORE_SENIOR_TITLE,
        "enquiry": 77,
    }


def test_events_mark_the_lead_stale_and_the_task_rescores_only_those(dns_server, settings):
    report = ReportFactory()
    quiet = contact("quiet@acme-pharma.example")
    busy = contact("busy@acme-pharma.example")
    scoring.leads_rescore()
    assert scoring.leads_stale_ids() == []

    enquiry(busy, report)  # the post_save receiver marks busy's lead changed
    assert scoring.leads_stale_ids() == [busy.pk]
    assert scoring.leads_rescore_stale() == 1

    assert "enquiry" in rules(Lead.objects.get(contact=busy))
    assert "enquiry" not in rules(Lead.objects.get(contact=quiet))
    assert scoring.leads_stale_ids() == []


def test_the_beat_tasks_rescore(dns_server):
    from sales import tasks

    person = contact("t@acme-pharma.example")
    assert tasks.leads_rescore_stale() == 1
    assert Lead.objects.get(contact=person).scored_at is not None
    assert tasks.leads_rescore_all() == 1

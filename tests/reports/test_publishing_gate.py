"""The publishing gate: a report whose quality check finds an error cannot be published —
from admin, import or the seed loader — until staff acknowledge each error with a note
(who, when, why: kept and shown in admin)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from reports.models import QualityAcknowledgement, Report
from reports.services.publishing import (
    finding_fingerprint,
    report_blockers,
    report_gate_record,
    report_quality_acknowledge,
)
from reports.services.seed import report_load_seed
from tests.factories import CategoryFactory, LicenceFactory, ReportFactory, UserFactory

pytestmark = pytest.mark.django_db

CONFLICT = "One estimate puts growth at a CAGR of 6–8% over five years."


def draft_with_conflict(**fields) -> Report:
    defaults = {
        "status": Report.Status.DRAFT,
        "published_at": None,
        "opportunities": CONFLICT,
        "base_year_market_size": Decimal("100"),
    }
    report = ReportFactory(**(defaults | fields))
    LicenceFactory(report=report)
    return report


def change_form(report: Report, **fields) -> dict:
    data = {
        "number": str(report.number),
        "title": report.title,
        "slug": report.slug,
        "market_name": report.market_name,
        "category": str(report.category_id),
        "status": report.status,
        "summary": report.summary,
        "analysis": report.analysis,
        "opportunities": report.opportunities,
        "cagr_percent": str(report.cagr_percent),
        "forecast_start_year": str(report.forecast_start_year),
        "forecast_end_year": str(report.forecast_end_year),
        "base_year_market_size": str(report.base_year_market_size or ""),
        "market_size_currency": "USD",
        "edition_date": report.edition_date.isoformat(),
    }
    for prefix in ("licences", "dynamics", "segments", "regions", "key_players", "toc_entries"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    data |= {"faqs-TOTAL_FORMS": "0", "faqs-INITIAL_FORMS": "0"}
    return data | fields


# --- The service --------------------------------------------------------------------------


def test_an_unacknowledged_error_keeps_a_report_a_draft_and_an_acknowledgement_releases_it():
    report = draft_with_conflict()
    (error,) = report_blockers(report=report)
    assert error.code == "growth-rate-conflict"

    report.status = Report.Status.PUBLISHED
    report.save()
    outcome = report_gate_record(report=report)
    report.refresh_from_db()
    assert outcome.held_back and report.status == Report.Status.DRAFT
    assert report.published_at is None and report.quality_open_errors == 1

    staff = UserFactory(first_name="Ada", last_name="Lovelace")
    report_quality_acknowledge(
        report=report, finding=error, note="The 6–8% is a third party's figure.", user=staff
    )
    assert report_blockers(report=report) == []
    report.refresh_from_db()
    assert report.quality_open_errors == 0
    report.status = Report.Status.PUBLISHED
    report.save()
    assert not report_gate_record(report=report).held_back
    report.refresh_from_db()
    assert report.status == Report.Status.PUBLISHED and report.published_at is not None


def test_an_acknowledgement_covers_that_wording_only():
    report = draft_with_conflict()
    (error,) = report_blockers(report=report)
    report_quality_acknowledge(report=report, finding=error, note="Sourced.", user=UserFactory())
    report.cagr_percent = Decimal("12.0")  # the error now reads differently: a new error
    report.save()
    (new_error,) = report_blockers(report=report)
    assert finding_fingerprint(new_error) != finding_fingerprint(error)


def test_an_acknowledgement_needs_a_note_and_only_errors_need_one():
    from django.core.exceptions import ValidationError

    report = draft_with_conflict(base_year_market_size=None)
    (error,) = report_blockers(report=report)
    with pytest.raises(ValidationError):
        report_quality_acknowledge(report=report, finding=error, note="  ", user=UserFactory())
    assert not QualityAcknowledgement.objects.exists()


# --- The seed loader ----------------------------------------------------------------------


def test_the_seed_loader_acknowledges_its_known_contradiction_and_stays_published():
    report = report_load_seed().report
    assert report.status == Report.Status.PUBLISHED and report.quality_open_errors == 0
    ack = QualityAcknowledgement.objects.get(report=report)
    assert ack.code == "growth-rate-conflict" and "6–8%" in ack.message
    assert ack.acknowledged_by is None
    assert ack.acknowledged_by_name == "Seed loader (reports/services/seed.py)"
    assert "analysts" in ack.note
    report_load_seed()  # loading again adds nothing
    assert QualityAcknowledgement.objects.count() == 1


# --- Admin --------------------------------------------------------------------------------


def test_admin_refuses_to_publish_next_to_the_status_field_and_changes_nothing(admin_client):
    report = draft_with_conflict()
    url = reverse("admin:reports_report_change", args=[report.pk])

    response = admin_client.post(url, change_form(report, status="published", title="New title"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Cannot publish: the quality check finds 1 error nobody has acknowledged" in " ".join(
        errors["status"]
    )
    assert "6–8%" in " ".join(errors["status"])
    saved = Report.objects.get(pk=report.pk)
    assert saved.status == Report.Status.DRAFT and saved.title == report.title != "New title"


def test_admin_refuses_when_the_error_comes_from_an_inline_of_the_same_save(admin_client):
    report = ReportFactory(status=Report.Status.DRAFT, published_at=None)
    LicenceFactory(report=report)
    url = reverse("admin:reports_report_change", args=[report.pk])
    data = change_form(report, status="published", opportunities="")
    data |= {
        "faqs-TOTAL_FORMS": "1",
        "faqs-0-question": "How fast?",
        "faqs-0-answer": "A CAGR of 25% a year.",
        "faqs-0-position": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Cannot publish" in " ".join(response.context["adminform"].form.errors["status"])
    assert report.faqs.count() == 0  # the whole save was rolled back
    assert Report.objects.get(pk=report.pk).status == Report.Status.DRAFT


def test_staff_acknowledge_an_error_with_a_note_then_publish(admin_client, admin_user):
    report = draft_with_conflict()
    change = reverse("admin:reports_report_change", args=[report.pk])
    page = admin_client.get(change).content.decode()
    (error,) = report_blockers(report=report)
    ack_url = reverse(
        "admin:reports_report_acknowledge", args=[report.pk, finding_fingerprint(error)]
    )
    assert "Blocks publishing." in page and ack_url in page

    form = admin_client.get(ack_url).content.decode()
    assert "6–8%" in form and 'name="note"' in form
    refused = admin_client.post(ack_url, {"note": ""})
    assert refused.status_code == 200 and refused.context["form"].errors["note"]
    assert admin_client.post(ack_url, {"note": "A third party's estimate."})["Location"] == change

    page = admin_client.get(change).content.decode()
    assert f"Acknowledged by {admin_user.get_username()} on" in page
    assert "A third party&#x27;s estimate." in page
    published = admin_client.post(change, change_form(report, status="published"))
    assert published.status_code == 302
    report.refresh_from_db()
    assert report.status == Report.Status.PUBLISHED and report.published_at is not None


def test_the_report_list_filters_reports_with_errors_to_acknowledge(admin_client):
    held = draft_with_conflict(title="Held Widgets Market")
    report_gate_record(report=held)
    clean = ReportFactory(title="Clean Widgets Market", base_year_market_size=Decimal("1"))
    LicenceFactory(report=clean)
    url = reverse("admin:reports_report_changelist")
    html = admin_client.get(url, {"quality": "open"}).content.decode()
    assert "Held Widgets Market" in html and "Clean Widgets Market" not in html


def test_a_new_report_published_with_a_price_in_the_same_save_passes(admin_client):
    category = CategoryFactory()
    data = change_form(
        ReportFactory.build(number=3100001, category=category, opportunities=""),
        status="published",
    )
    data |= {
        "licences-TOTAL_FORMS": "1",
        "licences-0-position": "0",
        "licences-0-kind": "single",
        "licences-0-description": "One user.",
        "licences-0-price": "1000",
        "licences-0-currency": "USD",
        "licences-0-is_active": "on",
    }
    response = admin_client.post(reverse("admin:reports_report_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Report.objects.get(number=3100001).status == Report.Status.PUBLISHED

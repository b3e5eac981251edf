"""The public pre-order enquiry form: what is stored for a good post, and that every bad or
hostile post is refused next to the field with nothing stored or queued."""

import pytest
from django.urls import reverse

from contacts.models import Contact, OutboundEmail
from enquiries.models import Enquiry
from tests.enquiries.conftest import form_started_token
from tests.factories import LicenceFactory, ReportFactory

pytestmark = pytest.mark.django_db


def url(report):
    return reverse("enquiries:pre-order-enquiry", args=[report.number])


def valid_post(report, **overrides):
    data = {
        "type": "pricing",
        "licence": report.licences.get(kind="multi").pk,
        "question": "What does a team of 8 pay?",
        "name": "Maria Lopez",
        "email": "Maria.Lopez@Clinsite.example",
        "company": "Clinsite Partners",
        "job_title": "VP Strategy",
        "country": "ES",
        "phone": "",
        "consent": "on",
        "website": "",
        "form_started": form_started_token(),
    }
    return data | overrides


def assert_nothing_stored():
    assert Enquiry.objects.count() == 0
    assert Contact.objects.count() == 0
    assert OutboundEmail.objects.count() == 0


def test_form_page_offers_the_reports_licences_and_is_not_indexed(client, report):
    response = client.get(url(report))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<meta name="robots" content="noindex">' in html
    assert "USD 5,900" in html and "Enterprise" in html
    assert 'name="website"' in html and "hp-field" in html


def test_invoice_link_preselects_type_licence_and_drafts_the_question(client, report):
    response = client.get(url(report) + "?type=invoice&licence=enterprise")
    form = response.context["form"]
    assert form.initial["type"] == "invoice"
    assert form.initial["licence"].kind == "enterprise"
    assert "pay by invoice" in form.initial["question"]


def test_upcoming_report_defaults_to_pre_order(client, report):
    report.status = "upcoming"
    report.save()
    assert client.get(url(report)).context["form"].initial["type"] == "pre_order"


def test_draft_or_unknown_report_is_404(client):
    draft = ReportFactory(status="draft")
    assert client.get(url(draft)).status_code == 404
    assert client.get("/enquiry/pre-order-enquiry/999").status_code == 404


def test_valid_post_stores_enquiry_contact_and_attribution_then_thanks(client, report):
    client.get(
        report.get_absolute_url() + "?utm_source=linkedin&utm_medium=social&utm_campaign=spring"
    )
    response = client.post(
        url(report), valid_post(report), REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Test/1.0"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("enquiries:pre-order-enquiry-thanks", args=[1780960])
    enquiry = Enquiry.objects.get()
    assert enquiry.contact.email == "maria.lopez@clinsite.example"
    assert (enquiry.type, enquiry.licence.kind, enquiry.question) == (
        "pricing",
        "multi",
        "What does a team of 8 pay?",
    )
    assert (enquiry.utm_source, enquiry.utm_medium, enquiry.utm_campaign) == (
        "linkedin",
        "social",
        "spring",
    )
    assert enquiry.ip == "203.0.113.0" and enquiry.user_agent == "Test/1.0"
    assert enquiry.consent_version and not enquiry.about_upcoming_report


def test_thank_you_page_says_when_to_expect_an_answer_and_escapes_the_question(client, report):
    client.post(url(report), valid_post(report, question="<script>alert(1)</script> price?"))
    response = client.get(reverse("enquiries:pre-order-enquiry-thanks", args=[report.number]))
    html = response.content.decode()
    assert "Expect an answer by" in html and "within one business day" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert '<meta name="robots" content="noindex">' in html


def test_thank_you_page_without_an_enquiry_in_the_session_goes_back_to_the_form(client, report):
    response = client.get(reverse("enquiries:pre-order-enquiry-thanks", args=[report.number]))
    assert response.status_code == 302 and response["Location"] == url(report)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("question", ""),
        ("question", "   "),
        ("question", "Hello\x00world"),
        ("question", "x" * 5001),
        ("name", ""),
        ("email", "not-an-email"),
        ("email", ""),
        ("company", ""),
        ("job_title", ""),
        ("country", "XX"),
        ("phone", "12"),
        ("type", "bribe"),
        ("consent", ""),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_stored(client, report, field, value):
    response = client.post(url(report), valid_post(report, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert_nothing_stored()


def test_licence_of_another_report_is_refused(client, report):
    other = LicenceFactory(kind="single")
    response = client.post(url(report), valid_post(report, licence=other.pk))
    assert "licence" in response.context["form"].errors
    assert_nothing_stored()


@pytest.mark.parametrize("field", ["name", "email", "company"])
def test_header_injection_is_refused_as_a_form_error(client, report, field):
    hostile = {
        "name": "Maria\r\nBcc: victim@example.com",
        "email": "maria@clinsite.example\r\nBcc: victim@example.com",
        "company": "Clinsite\r\nBcc: victim@example.com",
    }[field]
    response = client.post(url(report), valid_post(report, **{field: hostile}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert "victim@example.com" not in str(response.context["form"].cleaned_data)
    assert_nothing_stored()


def test_filled_honeypot_is_refused(client, report):
    response = client.post(url(report), valid_post(report, website="http://spam.example"))
    assert response.context["form"].non_field_errors()
    assert_nothing_stored()


def test_form_sent_faster_than_a_person_can_type_is_refused(client, report):
    response = client.post(url(report), valid_post(report, form_started=form_started_token(0)))
    assert "very fast" in str(response.context["form"].non_field_errors())
    assert_nothing_stored()


def test_forged_form_timestamp_is_refused(client, report):
    response = client.post(url(report), valid_post(report, form_started="form:forged:sig"))
    assert response.context["form"].non_field_errors()
    assert_nothing_stored()


def test_same_question_posted_twice_is_one_enquiry(client, report):
    client.post(url(report), valid_post(report))
    client.post(url(report), valid_post(report))
    assert Enquiry.objects.count() == 1
    assert OutboundEmail.objects.filter(template__contains="acknowledgement").count() == 1


def test_one_contact_per_address_whatever_its_case(client, report):
    client.post(url(report), valid_post(report))
    client.post(
        url(report),
        valid_post(report, email="MARIA.LOPEZ@clinsite.example", question="And enterprise?"),
    )
    assert Contact.objects.count() == 1
    assert Enquiry.objects.count() == 2


def test_too_many_posts_from_one_ip_are_refused(client, report, settings):
    settings.ENQUIRY_RATE_LIMIT_PER_IP = 2
    for n in range(2):
        client.post(url(report), valid_post(report, email=f"p{n}@clinsite.example"))
    response = client.post(url(report), valid_post(report, email="p9@clinsite.example"))
    assert response.status_code == 429 and response["Retry-After"]
    assert Enquiry.objects.count() == 2


def test_too_many_posts_for_one_email_are_refused(client, report, settings):
    settings.ENQUIRY_RATE_LIMIT_PER_EMAIL = 1
    client.post(url(report), valid_post(report), REMOTE_ADDR="198.51.100.1")
    response = client.post(
        url(report), valid_post(report, question="Another one"), REMOTE_ADDR="198.51.100.2"
    )
    assert response.status_code == 429
    assert Enquiry.objects.count() == 1

"""The sample-request form through the test client: validation next to each field, spam and
abuse protection (a rejected post stores and queues nothing), 404s, attribution, the
visitor's thank-you and status pages."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, OutboundEmail
from enquiries.models import SampleRequest
from reports.models import Report
from tests.factories import ReportFactory, SampleRequestFactory
from tests.support.forms import form_started_token, sample_form_data
from tests.support.jobs import site_callbacks

pytestmark = pytest.mark.django_db


@pytest.fixture
def report():
    return ReportFactory(title="Test Widgets Market, 2025–2032")


def form_url(report, query=""):
    return reverse("enquiries:request-sample", args=[report.number]) + query


def valid_data(**overrides):
    data = sample_form_data(
        email="Jane.Doe@Acme-Pharma.example",
        phone="+49 30 1234567",
        message="Mostly interested in Europe.\nThanks!",
        website="",
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def nothing_stored():
    return (
        SampleRequest.objects.count() == 0
        and Contact.objects.count() == 0
        and OutboundEmail.objects.count() == 0
    )


def test_form_page_shows_every_field_with_noindex_and_privacy_link(client, report):
    response = client.get(form_url(report))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<meta name="robots" content="noindex">' in html
    for field in ("name", "email", "company", "job_title", "country", "phone", "message"):
        assert f'name="{field}"' in html
    assert 'type="checkbox" name="consent"' in html
    assert f'href="{reverse("privacy")}"' in html
    assert re.search(r'class="hp-field"\s+aria-hidden="true"', html)  # honeypot hidden
    assert 'name="form_started"' in html and report.title in html


def test_draft_and_unknown_reports_answer_404(client, report):
    draft = ReportFactory(status=Report.Status.DRAFT)
    assert client.get(form_url(draft)).status_code == 404
    assert client.post(form_url(draft), valid_data()).status_code == 404
    assert client.get(reverse("enquiries:request-sample", args=[9999999])).status_code == 404
    assert nothing_stored()


def test_valid_post_stores_the_lead_and_queues_the_stamping_after_commit(
    client, report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            form_url(report),
            valid_data(),
            REMOTE_ADDR="203.0.113.77",
            HTTP_USER_AGENT="Mozilla/5.0 Test",
        )
    request = SampleRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("enquiries:sample-thanks", args=[request.public_token])
    assert len(site_callbacks(callbacks)) == 1  # the prepare task, once the row is committed
    assert request.status == "received" and request.report == report
    assert request.email == "jane.doe@acme-pharma.example"
    assert (request.name, request.company, request.job_title) == (
        "Jane Doe",
        "Acme Pharma",
        "Head of Clinical Operations",
    )
    assert request.country.code == "DE" and str(request.phone) == "+49301234567"
    assert request.message == "Mostly interested in Europe.\nThanks!"
    assert request.ip == "203.0.113.0"  # truncated to the /24
    assert request.user_agent == "Mozilla/5.0 Test"
    assert request.consent_version == "2025-03"
    assert abs((timezone.now() - request.consent_at).total_seconds()) < 60
    assert request.free_mail is False
    assert len(request.public_token) >= 32
    assert request.contact.email == "jane.doe@acme-pharma.example"


def test_first_touch_utm_parameters_from_the_session_are_recorded(client, report):
    client.get(
        report.get_absolute_url() + "?utm_source=linkedin&utm_medium=paid&utm_campaign=smo-q1",
        HTTP_REFERER="https://www.linkedin.com/",
    )
    client.get(form_url(report))  # a later page view without utm must not replace them
    client.post(form_url(report), valid_data())
    request = SampleRequest.objects.get()
    assert (request.utm_source, request.utm_medium, request.utm_campaign) == (
        "linkedin",
        "paid",
        "smo-q1",
    )
    assert request.landing_page.startswith(report.get_absolute_url())
    assert request.referrer == "https://www.linkedin.com/"


def test_utm_parameters_on_the_form_url_are_used_when_the_session_has_none(client, report):
    client.post(form_url(report, "?utm_source=newsletter&utm_campaign=march"), valid_data())
    request = SampleRequest.objects.get()
    assert (request.utm_source, request.utm_campaign) == ("newsletter", "march")


def test_free_mail_addresses_are_accepted_and_flagged(client, report):
    response = client.post(form_url(report), valid_data(email="jane.doe@gmail.com"))
    assert response.status_code == 302
    assert SampleRequest.objects.get().free_mail is True


def test_upcoming_report_takes_sample_requests(client):
    upcoming = ReportFactory(status=Report.Status.UPCOMING)
    page = client.get(form_url(upcoming)).content.decode()
    assert "Upcoming report" in page and "outline" in page
    assert client.post(form_url(upcoming), valid_data()).status_code == 302
    assert SampleRequest.objects.get().report == upcoming


BAD_INPUT = [
    ("name", "", "This field is required."),
    ("name", "Jane\r\nBcc: victim@example.com", "Please remove line breaks"),
    ("name", "x" * 151, "at most 150 characters"),
    ("email", "", "This field is required."),
    ("email", "jane.doe@", "Enter a valid email address."),
    ("email", "jane@acme.example\r\nBcc: x@example.com", "Enter a valid email address."),
    ("company", "", "This field is required."),
    ("company", "Acme\nPharma", "Please remove line breaks"),
    ("job_title", "", "This field is required."),
    ("country", "", "This field is required."),
    ("country", "XX", "Select a valid choice."),
    ("phone", "12", "Enter a valid phone number"),
    ("message", "x" * 2001, "at most 2000 characters"),
    ("message", "hello\x1b[31mworld", "Please remove special characters"),
    ("consent", None, "Please agree so that we can send you the document."),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_shows_the_error_next_to_the_field_and_stores_nothing(
    client, report, field, value, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(form_url(report), valid_data(**{field: value}))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    html = response.content.decode()
    # crispy renders the error right under the field it belongs to
    error_block = re.search(rf'id="error_1_id_{field}"[^>]*>(.*?)</', html, re.S)
    assert error_block is not None
    assert 'value="Acme Pharma"' in html or field == "company"  # what was typed is kept
    assert nothing_stored() and callbacks == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (lambda: {"website": "http://spam.example"}, "could not be accepted"),  # honeypot
        (lambda: {"form_started": form_started_token(age_seconds=0)}, "very fast"),
        (lambda: {"form_started": "form:forged:signature"}, "could not be accepted"),
        (lambda: {"form_started": None}, "could not be accepted"),
    ],
    ids=["honeypot", "too-fast", "forged-start-time", "no-start-time"],
)
def test_spam_signals_reject_the_post_and_store_nothing(
    client, report, overrides, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(form_url(report), valid_data(**overrides()))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].non_field_errors())
    assert nothing_stored() and callbacks == []


def test_minimum_fill_time_follows_the_setting(client, report, settings):
    settings.FORM_MIN_FILL_SECONDS = 120
    response = client.post(form_url(report), valid_data())  # opened 30 s ago
    assert "very fast" in " ".join(response.context["form"].non_field_errors())
    assert nothing_stored()


def test_expired_form_is_refused_and_shown_again_with_a_fresh_start_time(client, report, settings):
    settings.FORM_MAX_AGE_SECONDS = 60
    old = form_started_token(age_seconds=600)
    response = client.post(form_url(report), valid_data(form_started=old))
    assert "open too long" in " ".join(response.context["form"].non_field_errors())
    assert nothing_stored()
    fresh = re.search(r'name="form_started" value="([^"]+)"', response.content.decode())[1]
    assert fresh != old
    settings.FORM_MIN_FILL_SECONDS = 0
    assert client.post(form_url(report), valid_data(form_started=fresh)).status_code == 302


def test_rate_limit_per_ip_answers_429_and_stores_nothing(client, report, settings):
    settings.SAMPLE_RATE_LIMIT_PER_IP = 2
    for n in range(2):
        response = client.post(
            form_url(report),
            valid_data(email=f"user{n}@acme-pharma.example"),
            REMOTE_ADDR="198.51.100.7",
        )
        assert response.status_code == 302
    response = client.post(
        form_url(report), valid_data(email="user9@acme-pharma.example"), REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429
    assert response["Retry-After"] == str(settings.SAMPLE_RATE_LIMIT_WINDOW_SECONDS)
    assert "Too many requests" in response.content.decode()
    assert SampleRequest.objects.count() == 2
    assert not Contact.objects.filter(email="user9@acme-pharma.example").exists()
    # another address is not affected
    other = client.post(
        form_url(report), valid_data(email="user9@acme-pharma.example"), REMOTE_ADDR="198.51.100.8"
    )
    assert other.status_code == 302


def test_rate_limit_per_email_answers_429_and_stores_nothing(client, settings):
    settings.SAMPLE_RATE_LIMIT_PER_EMAIL = 2
    reports = ReportFactory.create_batch(3)
    for n, report in enumerate(reports[:2]):
        response = client.post(form_url(report), valid_data(), REMOTE_ADDR=f"192.0.2.{n}")
        assert response.status_code == 302
    response = client.post(form_url(reports[2]), valid_data(), REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 429
    assert SampleRequest.objects.count() == 2
    assert not SampleRequest.objects.filter(report=reports[2]).exists()


def test_rate_limit_lets_leads_through_when_the_cache_is_down(client, report, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.post(form_url(report), valid_data())
    assert response.status_code == 302
    assert SampleRequest.objects.count() == 1


def test_asking_again_within_the_dedupe_window_reuses_the_request(client, report):
    first = client.post(form_url(report), valid_data())
    second = client.post(form_url(report), valid_data(email="JANE.DOE@acme-pharma.example"))
    assert first["Location"] == second["Location"]
    assert SampleRequest.objects.count() == 1 and Contact.objects.count() == 1


def test_one_contact_many_requests(client):
    first, second = ReportFactory.create_batch(2)
    client.post(form_url(first), valid_data())
    client.post(form_url(second), valid_data(company="Acme Pharma GmbH"))
    contact = Contact.objects.get()
    assert contact.sample_requests.count() == 2
    # A public form never overwrites what the contact holds; each request keeps its own.
    assert contact.company == "Acme Pharma"
    assert contact.sample_requests.filter(report=second).get().company == "Acme Pharma GmbH"


# --- The visitor's pages ------------------------------------------------------------------


def test_thank_you_page_says_what_happens_next_and_links_the_private_status(client, report):
    response = client.post(form_url(report), valid_data(), follow=True)
    html = response.content.decode()
    request = SampleRequest.objects.get()
    assert "What happens next" in html
    assert "j•••@acme-pharma.example" in html and "jane.doe@" not in html
    assert reverse("enquiries:sample-status", args=[request.public_token]) in html
    assert '<meta http-equiv="refresh"' in html  # updates itself without JavaScript
    assert '<meta name="robots" content="noindex">' in html
    assert "no-store" in response["Cache-Control"]


def test_status_page_shows_the_delivery_time_and_stops_refreshing_once_sent(client, report):
    sent_at = timezone.now().replace(hour=14, minute=2)
    request = SampleRequestFactory(
        report=report,
        contact__email="jd@acme.com",
        status=SampleRequest.Status.EMAILED,
        emailed_at=sent_at,
    )
    response = client.get(reverse("enquiries:sample-status", args=[request.public_token]))
    html = response.content.decode()
    assert re.search(r"Sent to j•••@acme.com at <time[^>]*>14:02</time>", html)
    assert '<meta http-equiv="refresh"' not in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_status_page_refreshes_while_the_sample_is_prepared(client, report):
    request = SampleRequestFactory(report=report)
    html = client.get(reverse("enquiries:sample-status", args=[request.public_token])).content
    assert b'<meta http-equiv="refresh" content="3">' in html
    assert b"Preparing your personalised sample" in html


def test_status_page_of_a_failed_request_reassures_without_details(client, report):
    request = SampleRequestFactory(
        report=report, status=SampleRequest.Status.FAILED, error="SMTPDataError: 550 secret"
    )
    html = client.get(reverse("enquiries:sample-status", args=[request.public_token])).content
    assert b"could not send your sample automatically" in html
    assert b"secret" not in html


def test_status_and_thank_you_pages_show_nothing_for_a_wrong_token(client, report):
    request = SampleRequestFactory(report=report)
    wrong = request.public_token[:-1] + ("A" if request.public_token[-1] != "A" else "B")
    for name in ("enquiries:sample-status", "enquiries:sample-thanks"):
        response = client.get(reverse(name, args=[wrong]))
        assert response.status_code == 404
        assert request.email.encode() not in response.content


@pytest.mark.parametrize(
    ("status", "says", "never"),
    [
        ("received", ["We prepare a PDF", "This page updates itself"], ["What you have"]),
        ("pdf_ready", ["We have prepared a PDF", "This page updates itself"], ["We prepare"]),
        ("emailed", ["What you have"], ["We prepare", "We have prepared", "updates itself"]),
        ("failed", ["by hand"], ["We prepare", "We have prepared", "updates itself"]),
    ],
)
def test_the_thank_you_page_says_what_has_happened_so_far(client, report, status, says, never):
    """Once the sample is sent, the page no longer promises to prepare it."""
    request = SampleRequestFactory(
        report=report, status=status, emailed_at=timezone.now() if status == "emailed" else None
    )
    html = client.get(reverse("enquiries:sample-thanks", args=[request.public_token])).content
    text = html.decode()
    for phrase in says:
        assert phrase in text, (status, phrase)
    for phrase in never:
        assert phrase not in text, (status, phrase)

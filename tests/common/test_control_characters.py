"""A NUL byte (or any control character) in a URL never answers 500 and never reaches the
database or the session: paths with one are 404, query parameters keep their text without
them, and forms refuse them next to the field."""

import pytest
from django.core import signing
from django.urls import reverse

from contacts.middleware import COOKIE_NAME, SIGNING_SALT
from enquiries.models import Enquiry, SampleRequest
from orders.models import Order
from tests.enquiries.conftest import form_started_token
from tests.factories import LicenceFactory, ReportFactory
from tests.reports.conftest import stripe  # noqa: F401 - the fixture
from tests.reports.orders_support import order_started

pytestmark = pytest.mark.django_db


def sample_data(**overrides):
    return {
        "name": "Jane Doe",
        "email": "jane@acme-pharma.example",
        "company": "Acme Pharma",
        "job_title": "Analyst",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(),
    } | overrides


def enquiry_data(**overrides):
    return {
        "type": "pricing",
        "question": "What does it cost?",
        "name": "Maria Lopez",
        "email": "maria@clinsite.example",
        "company": "Clinsite",
        "job_title": "VP",
        "country": "ES",
        "consent": "on",
        "form_started": form_started_token(),
    } | overrides


@pytest.mark.parametrize(
    "url", ["/?q=a%00b", "/?category=%00", "/?page=%00", "/?q=%01%7f%c2%85&category=x%0d%0ay"]
)
def test_catalogue_query_parameters_with_control_characters_answer_200(client, url):
    ReportFactory()
    assert client.get(url).status_code == 200


def test_search_reads_the_query_without_its_nul_byte(client):
    report = ReportFactory(title="Ab Widgets Market")
    response = client.get("/?q=A%00b")
    assert response.status_code == 200
    assert response.context["query"] == "Ab"
    assert list(response.context["reports"]) == [report]


@pytest.mark.parametrize(
    "path",
    [
        "/purchase/complete/SMO%00",
        "/purchase/complete/SMO-2026-000001%00/download",
        "/download/SMO-2026-000001/abc%00.def",
        "/enquiry/sample/abc%00",
        "/admin/orders/order/1%00/change/",
    ],
)
def test_paths_with_a_nul_byte_are_404(client, path):
    assert client.get(path).status_code == 404


def test_a_nul_in_utm_parameters_never_reaches_the_cookie_or_the_lead(client):
    report = ReportFactory()
    landing = client.get(f"{report.get_absolute_url()}?utm_source=news%00letter&utm_medium=%00")
    assert landing.status_code == 200
    cookie = landing.cookies[COOKIE_NAME].value
    stored = signing.loads(cookie, salt=SIGNING_SALT)
    assert stored["utm_source"] == "newsletter" and "\x00" not in str(stored)

    url = reverse("enquiries:request-sample", args=[report.number])
    assert client.post(url, sample_data()).status_code == 302
    lead = SampleRequest.objects.get()
    assert (lead.utm_source, lead.utm_medium) == ("newsletter", "")


def test_a_cookie_that_already_holds_a_nul_still_takes_every_lead_and_order(client, stripe):  # noqa: F811
    """A cookie signed before the fix may hold a NUL: the next post must not fail."""
    report = LicenceFactory(kind="single").report
    stored = {"utm_source": "bad\x00value", "landing_page": "/\x00", "referrer": ""}
    client.cookies[COOKIE_NAME] = signing.dumps(stored, salt=SIGNING_SALT, compress=True)

    sample_url = reverse("enquiries:request-sample", args=[report.number])
    assert client.post(sample_url, sample_data()).status_code == 302
    enquiry_url = reverse("enquiries:pre-order-enquiry", args=[report.number])
    assert client.post(enquiry_url, enquiry_data()).status_code == 302
    order = order_started(client, report, stripe)

    for lead in (SampleRequest.objects.get(), Enquiry.objects.get(), Order.objects.get()):
        assert (lead.utm_source, lead.landing_page) == ("badvalue", "/")
    assert order.utm_source == "badvalue"


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x85b"])
def test_forms_refuse_control_characters_next_to_the_field(client, value):
    report = ReportFactory()
    url = reverse("enquiries:request-sample", args=[report.number])
    response = client.post(url, sample_data(company=value))
    assert response.status_code == 200
    assert response.context["form"].has_error("company")
    assert not SampleRequest.objects.exists()


def test_multiline_text_keeps_line_breaks_and_stores_no_control_character(client):
    report = LicenceFactory(kind="single").report
    url = reverse("enquiries:pre-order-enquiry", args=[report.number])
    question = "First line\rsecond\r\nthird\tcolumn"
    assert client.post(url, enquiry_data(question=question)).status_code == 302
    assert Enquiry.objects.get().question == "First line\nsecond\nthird column"

    refused = client.post(url, enquiry_data(question="a\x00b", email="other@clinsite.example"))
    assert refused.status_code == 200 and refused.context["form"].has_error("question")


def test_user_agents_are_stored_without_control_characters(client):
    report = ReportFactory()
    url = reverse("enquiries:request-sample", args=[report.number])
    client.post(url, sample_data(), HTTP_USER_AGENT="Mozilla\x00/5.0\r\nX")
    assert SampleRequest.objects.get().user_agent == "Mozilla/5.0  X"

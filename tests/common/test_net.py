"""Per-client rate limits count an IPv6 client's whole /64 (one subscriber's allocation), not
each of its 2^64 addresses; IPv4 clients count per address."""

import pytest
from django.urls import reverse

from common.net import ip_rate_limit_key, ip_truncate
from enquiries.models import Enquiry, SampleRequest
from tests.enquiries.conftest import form_started_token
from tests.factories import LicenceFactory, ReportFactory
from tests.reports.conftest import stripe  # noqa: F401 - the fixture
from tests.reports.orders_support import purchase_post


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"),
        ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("", "unknown"),
        ("not-an-address", "unknown"),
        ("1.2.3.4\x00", "unknown"),
    ],
)
def test_rate_limit_key_is_the_ipv4_address_or_the_ipv6_slash_64(address, key):
    assert ip_rate_limit_key(address) == key


def test_stored_networks_stay_ipv4_slash_24_and_ipv6_slash_48():
    assert ip_truncate("198.51.100.7") == "198.51.100.0"
    assert ip_truncate("2001:db8:1:2:aaaa::1") == "2001:db8:1::"
    assert ip_truncate("garbage") == ""


def _sample_post(client, report, n, address):
    data = {
        "name": "Jane Doe",
        "email": f"user{n}@acme-pharma.example",
        "company": "Acme Pharma",
        "job_title": "Analyst",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(),
    }
    url = reverse("enquiries:request-sample", args=[report.number])
    return client.post(url, data, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_sample_requests_from_one_ipv6_slash_64_share_one_limit(client, settings):
    settings.SAMPLE_RATE_LIMIT_PER_IP = 2
    report = ReportFactory()
    for n in range(2):
        assert _sample_post(client, report, n, f"2001:db8:1:2::{n + 1:x}").status_code == 302
    # A third address in the same /64 is the same client...
    assert _sample_post(client, report, 3, "2001:db8:1:2:ffff::9").status_code == 429
    assert SampleRequest.objects.count() == 2
    # ...a neighbouring /64 is another one.
    assert _sample_post(client, report, 4, "2001:db8:1:3::1").status_code == 302


@pytest.mark.django_db
def test_enquiries_from_one_ipv6_slash_64_share_one_limit(client, settings):
    settings.ENQUIRY_RATE_LIMIT_PER_IP = 2
    report = LicenceFactory().report
    url = reverse("enquiries:pre-order-enquiry", args=[report.number])

    def post(n, address):
        data = {
            "type": "pricing",
            "question": f"Question {n}?",
            "name": "Maria Lopez",
            "email": f"maria{n}@clinsite.example",
            "company": "Clinsite",
            "job_title": "VP",
            "country": "ES",
            "consent": "on",
            "form_started": form_started_token(),
        }
        return client.post(url, data, REMOTE_ADDR=address)

    assert post(0, "2001:db8:5:6::1").status_code == 302
    assert post(1, "2001:db8:5:6::2").status_code == 302
    assert post(2, "2001:db8:5:6:1234::").status_code == 429
    assert Enquiry.objects.count() == 2


@pytest.mark.django_db
def test_pay_presses_from_one_ipv6_slash_64_share_one_limit(client, stripe, settings):  # noqa: F811
    settings.PURCHASE_RATE_LIMIT = 2
    report = LicenceFactory(kind="single").report
    for n in range(2):
        client.defaults["REMOTE_ADDR"] = f"2001:db8:9:9::{n + 1}"
        assert purchase_post(client, report, name="").status_code == 200  # a form error
    client.defaults["REMOTE_ADDR"] = "2001:db8:9:9:abcd::"
    assert purchase_post(client, report).status_code == 429


@pytest.mark.django_db
def test_a_proxy_without_its_count_is_warned_about_once(client, settings, caplog):
    """Behind nginx with TRUSTED_PROXY_COUNT=0 every visitor shares nginx's address: one
    visitor's failed sign-ins would lock everyone out. The log says so, once per process."""
    from common.net import proxy_count_warning

    proxy_count_warning.cache_clear()
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(3):
        client.post(
            "/admin/login/", {"username": f"x{n}", "password": "y"}, HTTP_X_FORWARDED_FOR="1.2.3.4"
        )
    warnings = [r for r in caplog.records if "TRUSTED_PROXY_COUNT is 0" in r.getMessage()]
    assert len(warnings) == 1
    settings.TRUSTED_PROXY_COUNT = 1
    proxy_count_warning.cache_clear()
    client.post("/admin/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert len([r for r in caplog.records if "TRUSTED_PROXY_COUNT is 0" in r.getMessage()]) == 1

"""A load balancer or monitor checks /healthz over plain HTTP, addressing the machine by its IP.
With production's HTTPS redirect and allowed hosts, that used to be a 301, or a 400 logged
at ERROR with a traceback: now it is /healthz's own answer, with nothing logged. Every other
path still has its host checked and its scheme redirected."""

import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_like(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["reports.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def test_a_plain_http_check_by_address_gets_the_health_answer_and_logs_no_error(
    client, production_like, caplog
):
    with caplog.at_level(logging.INFO):
        response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
        ready = client.get("/healthz/ready", HTTP_HOST="10.0.3.7:8000")  # from this machine
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_other_paths_still_have_their_host_checked_and_their_scheme_redirected(
    client, production_like, caplog
):
    assert client.get("/robots.txt", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert any(record.name == "django.security.DisallowedHost" for record in caplog.records)
    redirect = client.get("/robots.txt", HTTP_HOST="reports.example.com")
    assert (redirect.status_code, redirect["Location"]) == (
        301,
        "https://reports.example.com/robots.txt",
    )
    # An unknown path under /healthz is no health check: the whole stack answers it.
    assert client.get("/healthz/nothing-here", HTTP_HOST="10.0.3.7:8000").status_code == 400

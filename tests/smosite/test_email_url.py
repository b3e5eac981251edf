"""EMAIL_URL keeps its TLS option: `smtp://user:pass@host:587/?tls=True` (the form the
settings used to suggest) lost it, and the password went out in clear text."""

import smtplib

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from smosite.settings.base import mailers_from_url


def options(url):
    return mailers_from_url(url, timeout=5)["default"]["OPTIONS"]


@pytest.mark.parametrize(
    ("url", "use_tls", "use_ssl"),
    [
        ("smtp://user:pass@host:587/?tls=True", True, False),
        ("smtp://user:pass@host:587/?TLS=1", True, False),
        ("smtp://user:pass@host:587/?email_use_tls=yes", True, False),
        ("smtp://user:pass@host:587/?tls=False", False, False),
        ("smtp://user:pass@host:465/?ssl=True", False, True),
        ("smtp+tls://user:pass@host:587", True, False),
        ("smtps://user:pass@host:465", False, True),
        ("smtp+ssl://user:pass@host:465", False, True),
        ("smtp://host:25", False, False),
    ],
)
def test_tls_and_ssl_options_are_kept(url, use_tls, use_ssl):
    parsed = options(url)
    assert bool(parsed.get("use_tls")) is use_tls
    assert bool(parsed.get("use_ssl")) is use_ssl
    assert parsed["host"] == "host" and parsed["timeout"] == 5


def test_credentials_are_read_from_the_url():
    parsed = options("smtp://user%40example.com:p%3Ass@host:587/?tls=True")
    assert (parsed["username"], parsed["password"]) == ("user@example.com", "p:ss")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp://user:pass@host:587/?tsl=True", "unknown option 'tsl'"),
        ("smtp://user:pass@host:587/?tls=True&ssl=True", "not both"),
    ],
)
def test_a_misspelt_or_contradictory_option_stops_the_site(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        options(url)


def test_the_smtp_connection_asks_for_starttls_before_sending_the_password(smtp_server):
    """Against the real test SMTP server (which offers no STARTTLS): the connection demands
    TLS first and stops there, so the password never leaves in clear text."""
    mailer = mailers_from_url(
        f"smtp://user:secret@127.0.0.1:{smtp_server.port}/?tls=True", timeout=5
    )["default"]
    assert mailer["BACKEND"] == "smosite.mail.KeptOpenSMTPBackend"
    connection = import_string(mailer["BACKEND"])(alias="default", **mailer["OPTIONS"])
    with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
        connection.open()

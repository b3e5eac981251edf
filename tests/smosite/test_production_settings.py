"""Production settings refuse to start without their secrets: nothing falls back silently to
a development or test value."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

REQUIRED = {
    "DJANGO_SECRET_KEY": "prod-dummy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "reports.example.com",
    "DATABASE_URL": "postgres://app@db.example.com:5432/smosite",
    "CELERY_BROKER_URL": "redis://redis.example.com:6379/0",
    "CACHE_URL": "redis://redis.example.com:6379/1",
    "EMAIL_URL": "smtp://mail.example.com:587",
    "STRIPE_SECRET_KEY": "sk_live_dummy",
    "STRIPE_WEBHOOK_SECRET": "whsec_dummy",
    "SITE_URL": "https://reports.example.com",
}


def load_production_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and k != "SMOSITE_VAR_DIR"}
    code = "import django; django.setup(); print('ok')"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean | env | {"DJANGO_SETTINGS_MODULE": "smosite.settings.production"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_every_secret_set():
    result = load_production_settings(REQUIRED)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    result = load_production_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_refuses_a_short_secret_key_and_stripe_test_keys():
    short = load_production_settings(REQUIRED | {"DJANGO_SECRET_KEY": "short"})
    assert "at least 50 characters" in short.stderr
    test_key = load_production_settings(REQUIRED | {"STRIPE_SECRET_KEY": "sk_test_x"})
    assert test_key.returncode != 0 and "test key" in test_key.stderr


def test_production_refuses_a_site_url_that_is_not_https():
    result = load_production_settings(REQUIRED | {"SITE_URL": "http://reports.example.com"})
    assert result.returncode != 0 and "SITE_URL must be the site's https://" in result.stderr
    # Plain HTTP on loopback is for the benchmarks' servers; nothing outside can follow it.
    loopback = load_production_settings(REQUIRED | {"SITE_URL": "http://127.0.0.1:8000"})
    assert loopback.returncode == 0, loopback.stderr


@pytest.mark.parametrize(
    ("email_url", "starts"),
    [
        ("smtp://user:secret@mail.example.com:587", False),
        ("smtp://user:secret@mail.example.com:587/?tls=False", False),
        ("smtp://user:secret@mail.example.com:587/?tls=True", True),
        ("smtp+tls://user:secret@mail.example.com:587", True),
        ("smtps://user:secret@mail.example.com:465", True),
        ("smtp://user:secret@127.0.0.1:25", True),  # a relay on the same machine
        ("smtp://mail.example.com:25", True),  # no password to protect
    ],
)
def test_production_refuses_to_send_an_smtp_password_without_tls(email_url, starts):
    result = load_production_settings(REQUIRED | {"EMAIL_URL": email_url})
    assert (result.returncode == 0) == starts, result.stderr[-800:]
    if not starts:
        assert "SMTP password without TLS" in result.stderr


def production_setting(name: str, env: dict) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and k != "SMOSITE_VAR_DIR"}
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=clean | env | {"DJANGO_SETTINGS_MODULE": "smosite.settings.production"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-800:]
    return result.stdout.strip()


def test_production_requires_a_second_factor_for_staff_unless_turned_off():
    assert production_setting("ADMIN_REQUIRE_2FA", REQUIRED) == "True"
    off = production_setting("ADMIN_REQUIRE_2FA", REQUIRED | {"ADMIN_REQUIRE_2FA": "off"})
    assert off == "False"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOWNLOAD_ACCEL_REDIRECT": "/_private/"}, None),
        ({"DOWNLOAD_ACCEL_REDIRECT": "_private"}, "starts and ends with /"),
        (
            {"DOWNLOAD_ACCEL_REDIRECT": "/_private/", "PRIVATE_STORAGE_URL": "s3://bucket/pdfs"},
            "private storage on the filesystem",
        ),
    ],
)
def test_downloads_through_nginx_need_a_path_and_files_on_disk(env, message):
    result = load_production_settings(REQUIRED | env)
    if message is None:
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        assert result.returncode != 0 and message in result.stderr

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

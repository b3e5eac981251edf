"""A deployment that forgets DJANGO_SETTINGS_MODULE stops at once, saying why, instead of
serving the site on the local settings (DEBUG on, a development secret key): gunicorn, a
Celery worker or beat, and manage.py, each started for real. `make run` keeps its defaults
(tests/smosite/test_processes.py starts it)."""

import os
import subprocess
import sys

from django.conf import settings

from tests.support.ports import free_port

REFUSAL = "Refusing to start on smosite.settings.local"


def environment(**values) -> dict[str, str]:
    """This process's environment without the settings module, plus `values`."""
    kept = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SITE_URL")}
    return kept | values


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_gunicorn_without_a_settings_module_refuses_to_serve():
    result = run(
        [sys.executable, "-m", "gunicorn", "smosite.wsgi", "--bind", f"127.0.0.1:{free_port()}",
         "--workers", "1", "--no-control-socket"],
        environment(),
    )  # fmt: skip
    assert result.returncode != 0
    assert REFUSAL in result.stderr and "it is served by gunicorn" in result.stderr


def test_a_celery_worker_with_a_deployments_site_url_refuses_the_local_settings():
    result = run(
        [sys.executable, "-m", "celery", "-A", "smosite", "worker", "--pool", "solo", "-Q", "none"],
        environment(SITE_URL="https://reports.example.com"),
    )  # fmt: skip
    assert result.returncode != 0
    assert REFUSAL in result.stderr + result.stdout
    assert "SITE_URL is https://reports.example.com" in result.stderr + result.stdout


def test_manage_py_refuses_local_settings_named_explicitly_for_a_public_site():
    refused = run(
        [sys.executable, "manage.py", "check"],
        environment(DJANGO_SETTINGS_MODULE="smosite.settings.local", SITE_URL="https://reports.example.com"),
    )  # fmt: skip
    assert refused.returncode != 0 and REFUSAL in refused.stderr
    # The same command for `make run`'s address is fine: the local settings are what it wants.
    local = run(
        [sys.executable, "manage.py", "check"],
        environment(SITE_URL="http://127.0.0.1:8000", DATABASE_URL="sqlite:///:memory:",
                    CELERY_BROKER_URL="filesystem://", SMOSITE_VAR_DIR=str(settings.VAR_DIR / "startup")),
    )  # fmt: skip
    assert local.returncode == 0, local.stderr

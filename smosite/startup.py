"""Which settings a process starts on, and the refusal to run a deployment on the local ones.

`manage.py`, `make run` and its Celery processes default to `smosite.settings.local`: DEBUG on,
a development secret key, SQLite, mail written to files. A deployment that forgets
DJANGO_SETTINGS_MODULE (a hand-written unit, a container) used to fall back to them silently;
now a process that looks like a deployment stops at once and says why. It looks like one when
gunicorn (or another WSGI server than runserver) serves it, or when SITE_URL is a public
https:// address, which only production needs (the units, docs/deploy.md, set the module)."""

import os
import sys
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

LOCAL = "smosite.settings.local"
PRODUCTION = "smosite.settings.production"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
WSGI_SERVERS = ("gunicorn", "uwsgi", "mod_wsgi", "waitress")


class DeploymentOnLocalSettings(ImproperlyConfigured):
    pass


def deployment_signs(*, site_url: str | None = None) -> list[str]:
    """What makes this process look like a deployment rather than `make run`."""
    signs = [f"it is served by {name}" for name in WSGI_SERVERS if name in sys.modules]
    url = os.environ.get("SITE_URL", "") if site_url is None else site_url
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname not in LOOPBACK:
        signs.append(f"SITE_URL is {url}")
    return signs


def refuse_local_settings(*, site_url: str | None = None) -> None:
    if signs := deployment_signs(site_url=site_url):
        raise DeploymentOnLocalSettings(
            f"Refusing to start on {LOCAL} (DEBUG on, a development secret key) because "
            f"{' and '.join(signs)}. Set DJANGO_SETTINGS_MODULE={PRODUCTION} (the systemd units "
            "in deploy/ do; docs/deploy.md)."
        )


def settings_module() -> str:
    """DJANGO_SETTINGS_MODULE, or the local settings where they are what was meant."""
    module = os.environ.setdefault("DJANGO_SETTINGS_MODULE", LOCAL)
    if module == LOCAL:
        refuse_local_settings()
    return module

"""Production: no defaults for secrets. It refuses to start without them."""

import urllib.parse

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # raises ImproperlyConfigured when missing
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_DISABLE_SERVER_SIDE_CURSORS  # noqa: F405
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT = transport_for(CELERY_BROKER_URL)  # noqa: F405 - see base.py
# Rate limits must be shared by every web process: no in-memory default here.
CACHES = {"default": cache_with_timeouts(env.cache_url("CACHE_URL"))}  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
}
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET")
if not env.str("EMAIL_URL", default=""):
    raise ImproperlyConfigured("Set EMAIL_URL: production does not write mail to files.")
# Plain text is allowed only to this machine: nothing on the network can read it there.
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_smtp = MAILERS["default"]["OPTIONS"]  # noqa: F405
_smtp_clear = not (_smtp.get("use_tls") or _smtp.get("use_ssl"))
if _smtp.get("password") and _smtp_clear and _smtp["host"] not in _LOOPBACK:
    raise ImproperlyConfigured(
        "EMAIL_URL sends an SMTP password without TLS: use smtp+tls://, smtps:// or ?tls=True."
    )
# Links in emails, PDFs and Stripe's return URLs: never the development default, and never
# plain HTTP (they carry download tokens) except on loopback (the benchmarks' servers).
SITE_URL = env.str("SITE_URL").rstrip("/")
_site = urllib.parse.urlsplit(SITE_URL)
if _site.scheme != "https" and not (_site.scheme == "http" and _site.hostname in _LOOPBACK):
    raise ImproperlyConfigured("SITE_URL must be the site's https:// address.")
if STRIPE_SECRET_KEY.startswith("sk_test_") and not env.bool("STRIPE_ALLOW_TEST_KEYS", False):
    raise ImproperlyConfigured("A Stripe test key in production; set STRIPE_ALLOW_TEST_KEYS=1.")

# Logs for a collector: one JSON object per line unless LOG_FORMAT says otherwise.
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="json")  # noqa: F405
if LOGGING["handlers"]["console"]["formatter"] not in LOGGING["formatters"]:  # noqa: F405
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")

# Staff confirm each admin sign-in with an authenticator app unless explicitly turned off.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=True)

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

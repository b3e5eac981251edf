"""Production settings, served over plain HTTP on loopback: the only differences are the ones
that plain HTTP forces (no redirect to HTTPS, cookies not marked Secure, so HTTP clients send
them back) and the URLconf with the empty view."""

from smosite.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.product.urls"
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

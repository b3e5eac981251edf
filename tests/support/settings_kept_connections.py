"""The test settings with database connections kept between requests, as in production
(CONN_MAX_AGE with health checks): for serving the site from gunicorn in the fault tests."""

from smosite.settings.test import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405

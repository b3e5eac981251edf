"""Settings shared by every environment. Everything tunable is read from the environment
through one django-environ object; `.env.example` and the README list every variable."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from smosite.broker import transport_for
from smosite.storage_url import private_storage_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime folder (git-ignored): SQLite database, generated files, the development mailbox.
VAR_DIR = Path(environ.Env().str("SMOSITE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core ---------------------------------------------------------------------------------
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Absolute base for links in emails and PDFs (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
PUBLISHER_NAME = env.str("PUBLISHER_NAME", default="Reliable Research IQ")
# The seller as a buyer's purchasing department needs it: on every email's footer, every
# receipt and the contact page. The defaults are placeholders for `make run`; set the real
# ones in production.
PUBLISHER_LEGAL_NAME = env.str("PUBLISHER_LEGAL_NAME", default="Reliable Research IQ Ltd")
PUBLISHER_ADDRESS = env.str(
    "PUBLISHER_ADDRESS", default="1 Example Street, London EC1A 1AA, United Kingdom"
)
PUBLISHER_VAT_NUMBER = env.str("PUBLISHER_VAT_NUMBER", default="GB 000 0000 00")
PUBLISHER_PHONE = env.str("PUBLISHER_PHONE", default="+44 20 0000 0000")
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Reliable Research IQ <reports@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

INSTALLED_APPS = [
    "smosite.staff.apps.StaffAdminConfig",  # django.contrib.admin with the site's AdminSite
    "smosite.staff.apps.StaffConfig",  # staff sign-in: two-factor set-up links
    "smosite",  # the project's own commands: site_init (first run), database_backup
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",  # Bootstrap 5 static files from PyPI (django-bootstrap-static): no CDN.
    "django_countries",
    "phonenumber_field",
    "simple_history",
    "axes",
    "django_otp",
    "smosite.staff.apps.TOTPConfig",  # django_otp.plugins.otp_totp, named for staff
    # The site's own apps, each importing only those above it in this list (README, "The
    # apps"): pages < contacts < reports < orders < accounts < enquiries < sales < privacy.
    "common",
    "pages",
    "contacts",
    "reports",
    "orders",
    "accounts",  # buyers' sign-in by emailed link and "My reports" (imports orders)
    "enquiries",
    "sales",  # lead scores, leads to call, the dashboard: reads samples, enquiries, orders
    "privacy",
]

MIDDLEWARE = [
    "smosite.observability.RequestIdMiddleware",  # first: every response carries the id
    # Before the host check and the HTTPS redirect: a load balancer's plain-HTTP check by
    # address gets /healthz's answer, not a 301 or a 400 logged at ERROR.
    "smosite.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before anything reads the query string: control characters never reach a view.
    "common.middleware.ControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the page cache: a campaign landing on a cached page is remembered too.
    "contacts.middleware.FirstTouchAttributionMiddleware",
    # Anonymous pages answered from the cache skip everything below (sessions, CSRF, auth).
    "common.pagecache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smosite.urls"
WSGI_APPLICATION = "smosite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "smosite.context_processors.site",
            ],
        },
    },
    {
        # Plain-text emails and subjects: the same templates folders, without HTML escaping
        # (a name like "O'Brien <b>" must read as written in a text email).
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"autoescape": False},
    },
]

# --- Database -----------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A kept connection is checked before each request reuses it, so the first request after a
# database restart (or a killed backend) gets a fresh connection instead of an error.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + a busy timeout let the web process and the worker write the same SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, anonymous pages) ------------------------------------------------
# Seconds a Redis cache may take to connect or answer: rate limits fail open rather than let
# a cache outage hang a form (common/ratelimit.py), pages and searches are computed afresh.
CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.5)
# After a cache call fails (or times out), each process leaves the cache alone this long, then
# one request tries it again (common/breaker.py): a hung cache costs one timeout per period.
CACHE_BREAKER_SECONDS = env.float("CACHE_BREAKER_SECONDS", default=5)


def cache_with_timeouts(cache: dict) -> dict:
    if "redis" in cache["BACKEND"].lower():
        cache.setdefault("OPTIONS", {}).update(
            socket_connect_timeout=CACHE_TIMEOUT_SECONDS, socket_timeout=CACHE_TIMEOUT_SECONDS
        )
    return cache


CACHES = {
    "default": cache_with_timeouts(env.cache_url("CACHE_URL", default="locmemcache://smosite"))
}

# --- Passwords, i18n ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and storage -------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
# All files go through Django's storage API. "private" holds PDFs (base renders, stamped
# copies); it is never served under a public URL. PRIVATE_STORAGE_URL chooses its place:
# empty (var/private), file:///path, or s3://bucket/prefix?endpoint_url=…&region=… (one
# bucket shared by every machine; smosite/storage_url.py explains the options).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": private_storage_config(
        env.str("PRIVATE_STORAGE_URL", default=""), default_location=str(VAR_DIR / "private")
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email (Django 6.1 MAILERS) -----------------------------------------------------------
# https://docs.djangoproject.com/en/6.1/topics/email/#configuring-email
# EMAIL_URL like smtp+tls://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465
# (implicit TLS) or smtp://user:pass@host:587/?tls=True. Without it every message is written
# as an .eml file under var/mail/ (the development mailbox).
MAIL_DIR = VAR_DIR / "mail"
_TRUE = ("1", "true", "yes", "on")
_TLS_OPTIONS = {"tls": "use_tls", "use_tls": "use_tls", "email_use_tls": "use_tls"}
_TLS_OPTIONS |= {"ssl": "use_ssl", "use_ssl": "use_ssl", "email_use_ssl": "use_ssl"}


def mailers_from_url(url: str, *, timeout: int) -> dict:
    """MAILERS for an EMAIL_URL. django-environ keeps `?tls=True` as an unknown option (the
    SMTP password then went out in clear text) and reads "False" as true, so the query is
    read here; an option we don't know is an error, never silently dropped."""
    if not url:
        return {
            "default": {
                "BACKEND": "smosite.mail.EmlFileBackend",
                "OPTIONS": {"directory": str(MAIL_DIR)},
            }
        }
    base, _, query = url.partition("?")
    parsed = environ.Env.email_url_config(base)
    options = {"host": parsed["EMAIL_HOST"], "port": parsed["EMAIL_PORT"], "timeout": timeout}
    if parsed.get("EMAIL_HOST_USER"):
        options["username"] = parsed["EMAIL_HOST_USER"]
        options["password"] = parsed["EMAIL_HOST_PASSWORD"]
    scheme = base.split(":", 1)[0].lower()
    # smtps:// is implicit TLS (RFC 8314); django-environ would make it STARTTLS.
    wanted = {"smtp+tls": "use_tls", "smtps": "use_ssl", "smtp+ssl": "use_ssl"}.get(scheme)
    if wanted:
        options[wanted] = True
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if name.lower() not in _TLS_OPTIONS:
            raise ImproperlyConfigured(f"EMAIL_URL: unknown option {name!r} (use tls or ssl).")
        if values[-1].strip().lower() in _TRUE:
            options[_TLS_OPTIONS[name.lower()]] = True
    if options.get("use_tls") and options.get("use_ssl"):
        raise ImproperlyConfigured("EMAIL_URL: choose tls (STARTTLS) or ssl, not both.")
    backend = parsed["EMAIL_BACKEND"]
    if backend == "django.core.mail.backends.smtp.EmailBackend":
        # One SMTP connection per worker process, kept open between messages: a burst of
        # sample emails otherwise pays a handshake (TLS, AUTH) per message. 0: one per message.
        backend = "smosite.mail.KeptOpenSMTPBackend"
        options["keep_open_seconds"] = env.int("EMAIL_KEEP_OPEN_SECONDS", default=30)
        options["max_messages"] = env.int("EMAIL_MAX_MESSAGES_PER_CONNECTION", default=100)
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers_from_url(
    env.str("EMAIL_URL", default=""), timeout=env.int("EMAIL_TIMEOUT", default=15)
)
# Outbound mail: attempts before an email is marked failed, and the first retry delay
# (doubled each attempt).
MAIL_MAX_ATTEMPTS = env.int("MAIL_MAX_ATTEMPTS", default=6)
MAIL_RETRY_BACKOFF_SECONDS = env.int("MAIL_RETRY_BACKOFF_SECONDS", default=10)

# --- Celery -------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Without CELERY_BROKER_URL the broker is kombu's filesystem transport under var/celery:
# nothing to install. With redis://… it uses Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# For Redis, kombu's transport with the fix that keeps a worker alive when Redis restarts
# while it holds unacknowledged messages (smosite/broker.py); None: the URL's scheme decides.
CELERY_BROKER_TRANSPORT = transport_for(CELERY_BROKER_URL)
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default is ./control, i.e. exchange tables in the repository's root.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within this many seconds is redelivered (acks_late below).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task, so each task paid
# for a new PostgreSQL connection (a backend process forked on the server). Workers keep it
# like web processes do instead: smosite/celery.py closes it before a task when it is broken
# or older than DATABASE_CONN_MAX_AGE; the fixup still recycles it every 1,000 tasks.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues: "default" (sample stamping, enquiry replies, notices, the sweeper), "pdf" (WeasyPrint
# renders), "mail" (SMTP), "payments" (Stripe events, fulfilment). Each background job is
# published to its kind's queue (common/jobs.py). One worker may consume all; production
# splits them.
CELERY_QUEUES_ALL = "default,pdf,mail,payments"

# A job running when the broker connection drops is left to finish; its row records the
# result. Cancelling it (Celery 6's planned default) would kill every render and email in
# progress at each broker blip, and one whose message went with a restarted Redis would then
# wait JOB_LEASE_SECONDS to be taken over.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-cancel-long-running-tasks-on-connection-loss
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# --- Processes of `make run` and `make run-prod` (smosite/procfile.py) ----------------------
# A process of the Procfile that exits on its own is started again after this many seconds,
# doubled for each exit in a row up to the maximum (one that stayed up longer than the
# maximum starts over from the first delay); the other processes keep running.
PROCESS_RESTART_DELAY_SECONDS = env.float("PROCESS_RESTART_DELAY_SECONDS", default=1.0)
PROCESS_RESTART_MAX_DELAY_SECONDS = env.float("PROCESS_RESTART_MAX_DELAY_SECONDS", default=60.0)

# --- Background jobs (common/jobs.py) -----------------------------------------------------
# How often the sweeper publishes what is due: jobs the broker never got (they go out on the
# first sweep after it is back), retries whose time has come, claims whose worker died.
JOB_SWEEP_INTERVAL_SECONDS = env.int("JOB_SWEEP_INTERVAL_SECONDS", default=60)
# Jobs published per sweep at most (the rest go out on the next one).
JOB_SWEEP_BATCH = env.int("JOB_SWEEP_BATCH", default=1000)
# A claimed job whose worker has not finished it after this long is taken over (the worker
# died). Must exceed every kind's hard time limit.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=300)
# A job published but not started after this long is published again (its message was lost,
# e.g. Redis restarted without persistence).
JOB_REDISPATCH_AFTER_SECONDS = env.int("JOB_REDISPATCH_AFTER_SECONDS", default=300)
# Publishing from a web request: one connection attempt this long at most, then no attempt
# for the cool-down (the sweeper publishes the jobs once the broker is back).
JOB_PUBLISH_TIMEOUT_SECONDS = env.float("JOB_PUBLISH_TIMEOUT_SECONDS", default=0.5)
JOB_PUBLISH_COOLDOWN_SECONDS = env.int("JOB_PUBLISH_COOLDOWN_SECONDS", default=5)
# Longest wait between two attempts of a job (backoff doubles up to this).
JOB_RETRY_MAX_DELAY_SECONDS = env.int("JOB_RETRY_MAX_DELAY_SECONDS", default=300)
# Attempts and first retry delay of kinds without settings of their own (publication notices).
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=5)
JOB_RETRY_BACKOFF_SECONDS = env.int("JOB_RETRY_BACKOFF_SECONDS", default=30)
# Hard time limit of one run of a job (PDF renders have their own below): the worker process
# is killed and the job retried.
JOB_TIME_LIMIT_SECONDS = env.int("JOB_TIME_LIMIT_SECONDS", default=120)
# Finished jobs are kept this many days (the sweeper deletes older ones).
JOB_KEEP_DONE_DAYS = env.int("JOB_KEEP_DONE_DAYS", default=7)
# Failed jobs stay for staff this many days, then go too (their errors may name a person).
JOB_KEEP_FAILED_DAYS = env.int("JOB_KEEP_FAILED_DAYS", default=30)
# Pending orders that never reached Stripe Checkout are closed by this periodic task
# (ORDER_ABANDONED_AFTER_HOURS says when).
ORDER_EXPIRY_INTERVAL_SECONDS = env.int("ORDER_EXPIRY_INTERVAL_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {
        "task": "common.tasks.jobs_sweep",
        "schedule": JOB_SWEEP_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
    "orders-expire-abandoned": {
        "task": "reports.tasks.orders_expire_abandoned",
        "schedule": ORDER_EXPIRY_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
}

# --- PDF rendering ------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/workers.html#time-limits
# A render is interrupted (and recorded as failed) after the soft limit; the worker process
# is killed at the hard limit.
PDF_RENDER_SOFT_TIME_LIMIT = env.int("PDF_RENDER_SOFT_TIME_LIMIT", default=120)
PDF_RENDER_TIME_LIMIT = env.int("PDF_RENDER_TIME_LIMIT", default=180)
if max(PDF_RENDER_TIME_LIMIT, JOB_TIME_LIMIT_SECONDS) >= JOB_LEASE_SECONDS:
    # A lease shorter than a run could hand a live job to a second worker.
    raise ValueError(
        "JOB_LEASE_SECONDS must exceed PDF_RENDER_TIME_LIMIT and JOB_TIME_LIMIT_SECONDS"
    )
# Render attempts (database or storage errors, killed workers) before a version is marked
# failed, and the first retry delay (doubles).
PDF_RENDER_MAX_ATTEMPTS = env.int("PDF_RENDER_MAX_ATTEMPTS", default=3)
PDF_RENDER_RETRY_BACKOFF_SECONDS = env.int("PDF_RENDER_RETRY_BACKOFF_SECONDS", default=30)
# Base PDFs each worker process keeps, read and prepared for stamping (reports/pdf/stamp.py).
PDF_STAMP_BASE_CACHE_SIZE = env.int("PDF_STAMP_BASE_CACHE_SIZE", default=4)

# --- Stripe -------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Point the Stripe client at a Stripe-compatible server (tests use one on loopback).
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Webhook signatures older than this are refused (Stripe's own default tolerance).
# https://docs.stripe.com/webhooks#verify-manually
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Seconds one request to Stripe may wait for its answer; retries of network errors and 409/5xx
# (each reusing the call's idempotency key); and the deadline of everything one page asks
# Stripe (a press of Pay: promotion code, earlier sessions, create, retries; the success page),
# or of one call from a background job, kept well under the web worker's timeout so a slow or
# hanging Stripe gives the buyer a page, not a 502 (reports/services/stripe_client.py).
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=5)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
STRIPE_DEADLINE_SECONDS = env.float("STRIPE_DEADLINE_SECONDS", default=8)
# Processing a stored webhook event: attempts before it is marked failed (visible in admin),
# and the first retry delay (doubled each attempt).
STRIPE_EVENT_MAX_ATTEMPTS = env.int("STRIPE_EVENT_MAX_ATTEMPTS", default=8)
STRIPE_EVENT_RETRY_BACKOFF_SECONDS = env.int("STRIPE_EVENT_RETRY_BACKOFF_SECONDS", default=30)

# --- Billing: tax, invoices, pay by invoice (orders/services/invoices.py) ------------------
# Stripe Tax computes the tax of each Checkout Session (and of an invoice whose buyer gave a
# VAT ID, whose country is the buyer's location): switch on once Stripe Tax is set up
# (registrations, origin address). https://docs.stripe.com/tax/checkout
STRIPE_AUTOMATIC_TAX = env.bool("STRIPE_AUTOMATIC_TAX", default=False)
# "Pay by bank transfer — we'll send an invoice" is offered for orders of at least this
# amount, in the order's own currency (5000 means USD 5,000, EUR 5,000 or GBP 5,000) ...
INVOICE_MIN_AMOUNT = Decimal(env.str("INVOICE_MIN_AMOUNT", default="5000"))
# ... or for every order when this is on.
INVOICE_ALL_ORDERS = env.bool("INVOICE_ALL_ORDERS", default=False)
# Days a buyer has to pay an invoice (Stripe's days_until_due); past it Stripe sends
# invoice.overdue and the order is listed overdue in admin.
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=30)

# --- Orders and downloads -----------------------------------------------------------------
# Our order references look like SMO-2026-000123.
ORDER_REFERENCE_PREFIX = env.str("ORDER_REFERENCE_PREFIX", default="SMO")
# Pending orders that never reached Stripe Checkout are marked abandoned after this many hours.
ORDER_ABANDONED_AFTER_HOURS = env.int("ORDER_ABANDONED_AFTER_HOURS", default=24)
# Abandoned checkouts (orders/services/recovery.py): hours after Stripe reports a Checkout
# Session expired unpaid that the one reminder with its recovery link is sent, to a buyer who
# agreed to promotional email on Checkout's page.
# https://docs.stripe.com/payments/checkout/abandoned-carts
CHECKOUT_REMINDER_HOURS = env.float("CHECKOUT_REMINDER_HOURS", default=1.0)
# "Pay" attempts allowed per client (IPv4 address, IPv6 /64) per window (card-testing bots
# hammer checkouts).
PURCHASE_RATE_LIMIT = env.int("PURCHASE_RATE_LIMIT", default=10)
PURCHASE_RATE_WINDOW_SECONDS = env.int("PURCHASE_RATE_WINDOW_SECONDS", default=3600)
# The success page reloads itself (meta refresh, no JavaScript) this often until the report
# is ready.
PURCHASE_STATUS_REFRESH_SECONDS = env.int("PURCHASE_STATUS_REFRESH_SECONDS", default=3)
# Preparing the stamped report: attempts (e.g. while the base PDF is still rendering) before
# the order is flagged for staff, and the first retry delay (doubled each attempt, max 5 min).
DELIVERABLE_MAX_ATTEMPTS = env.int("DELIVERABLE_MAX_ATTEMPTS", default=10)
DELIVERABLE_RETRY_BACKOFF_SECONDS = env.int("DELIVERABLE_RETRY_BACKOFF_SECONDS", default=5)
# A download link's life and download allowance.
DOWNLOAD_LINK_TTL_DAYS = env.int("DOWNLOAD_LINK_TTL_DAYS", default=7)
DOWNLOAD_LINK_MAX_DOWNLOADS = env.int("DOWNLOAD_LINK_MAX_DOWNLOADS", default=5)
# Behind nginx, the URL prefix of an `internal` location aliased to the private storage
# folder (docs/deploy.md): the site counts a download and answers with X-Accel-Redirect, and
# nginx sends the file, so a web worker is not held while a buyer's connection takes it.
# Empty: gunicorn streams the file. Only for private storage on the local filesystem.
DOWNLOAD_ACCEL_REDIRECT = env.str("DOWNLOAD_ACCEL_REDIRECT", default="")
if DOWNLOAD_ACCEL_REDIRECT and not (
    DOWNLOAD_ACCEL_REDIRECT.startswith("/") and DOWNLOAD_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured("DOWNLOAD_ACCEL_REDIRECT is a path that starts and ends with /")
if DOWNLOAD_ACCEL_REDIRECT and STORAGES["private"]["BACKEND"].endswith("S3Storage"):
    raise ImproperlyConfigured("DOWNLOAD_ACCEL_REDIRECT needs private storage on the filesystem")
# Fresh links a buyer may request for one order per day (sent only to the purchase email).
DOWNLOAD_RENEW_LIMIT_PER_DAY = env.int("DOWNLOAD_RENEW_LIMIT_PER_DAY", default=3)

# --- Buyer accounts: sign-in by emailed link, "My reports" ---------------------------------
# A sign-in link (django-sesame token) works once, for this many minutes.
# https://django-sesame.readthedocs.io/en/stable/settings.html
ACCOUNT_LINK_MINUTES = env.int("ACCOUNT_LINK_MINUTES", default=15)
# A buyer's session (signed in through a link) ends after this many hours; staff sessions
# keep Django's SESSION_COOKIE_AGE.
ACCOUNT_SESSION_HOURS = env.int("ACCOUNT_SESSION_HOURS", default=24)
# Sign-in link requests accepted per email address and per client (an IPv4 address, or an
# IPv6 /64) per window; more get the friendly 429 page, whatever the address.
ACCOUNT_LINK_RATE_LIMIT_PER_EMAIL = env.int("ACCOUNT_LINK_RATE_LIMIT_PER_EMAIL", default=5)
ACCOUNT_LINK_RATE_LIMIT_PER_IP = env.int("ACCOUNT_LINK_RATE_LIMIT_PER_IP", default=20)
ACCOUNT_LINK_RATE_WINDOW_SECONDS = env.int("ACCOUNT_LINK_RATE_WINDOW_SECONDS", default=3600)
SESAME_MAX_AGE = ACCOUNT_LINK_MINUTES * 60
SESAME_ONE_TIME = True  # the sign-in updates last_login, which every earlier token signs
SESAME_TOKEN_NAME = "token"  # noqa: S105 - a query parameter name; `?token=` is redacted from logs (common/logging.py)

# --- Forms, messages ----------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US")

# --- Security defaults (tightened in production.py) ---------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy on every response, admin included (Django's built-in support).
# https://docs.djangoproject.com/en/6.1/ref/csp/
# Scripts: our own files, or an inline script carrying the request's nonce; never
# 'unsafe-inline'. Style elements likewise; style *attributes* are allowed (the admin, its
# packages and the emails shown in the mail log use them; they cannot run code, and images
# they could load are limited by img-src). The purchase page adds Stripe Checkout to
# form-action (its POST answers with a redirect there).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Logging ------------------------------------------------------------------------------
# One line per record on stderr: "plain" for people, "json" (one object per line, for a log
# collector; production's default) with time, level, logger, message, request_id, task_id and
# task_name. The request id comes from X-Request-ID or is made per request, and follows the
# request into its Celery tasks (smosite/observability.py). Workers and beat log the same way.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "smosite.observability.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(task_name)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "json_ensure_ascii": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every layout step at INFO; stripe-python every request and response.
    "loggers": {
        "weasyprint.progress": {"level": "WARNING"},
        "stripe": {"level": env.str("STRIPE_LOG_LEVEL", default="WARNING")},
    },
}
if LOG_FORMAT not in LOGGING["formatters"]:
    raise ValueError(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")

# --- Public forms: spam protection --------------------------------------------------------
# A form posted sooner than this after it was shown is refused (bots fill forms instantly).
FORM_MIN_FILL_SECONDS = env.int("FORM_MIN_FILL_SECONDS", default=3)
# A form older than this must be reloaded (the signed timestamp expires).
FORM_MAX_AGE_SECONDS = env.int("FORM_MAX_AGE_SECONDS", default=86400)
# Proxies in front of the site that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Page cache and attribution ----------------------------------------------------------
# Seconds an anonymous page (catalogue, report pages) may be served from the shared cache.
# Staff edits invalidate it at once; this only bounds writes that bypass the ORM. 0: off.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=600)
# Pages each web process also keeps in its own memory (about 70 KB each for a report page).
PAGE_CACHE_LOCAL_ENTRIES = env.int("PAGE_CACHE_LOCAL_ENTRIES", default=200)
# Seconds a page's render may keep overlapping requests on the page's previous version
# after an edit (a render that died or is that slow; a finished render ends it at once).
PAGE_CACHE_RENDER_SECONDS = env.int("PAGE_CACHE_RENDER_SECONDS", default=10)
# Days the signed first-touch cookie (the campaign that brought a visitor) is kept.
ATTRIBUTION_COOKIE_DAYS = env.int("ATTRIBUTION_COOKIE_DAYS", default=14)

# --- Pages and health --------------------------------------------------------------------
# Reports per catalogue page.
CATALOGUE_PAGE_SIZE = env.int("CATALOGUE_PAGE_SIZE", default=12)
# /healthz/ready (smosite/health.py): each probe's time limit, how long its answer is reused
# (polls meanwhile cost nothing), and the token that opens it to other machines than this one
# (`Authorization: Bearer <token>` or `?token=`; empty: this machine only).
HEALTHZ_TIMEOUT_SECONDS = env.float("HEALTHZ_TIMEOUT_SECONDS", default=2)
HEALTHZ_CACHE_SECONDS = env.float("HEALTHZ_CACHE_SECONDS", default=5)
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")

# --- Catalogue: import, search, sitemaps -------------------------------------------------
# Largest file the admin's import page accepts (it imports in the request); bigger feeds go
# through `manage.py import_reports`.
CATALOGUE_IMPORT_ADMIN_MAX_MB = env.int("CATALOGUE_IMPORT_ADMIN_MAX_MB", default=10)
# Lines written per transaction by an import (memory and lock time grow with it).
CATALOGUE_IMPORT_BATCH_SIZE = env.int("CATALOGUE_IMPORT_BATCH_SIZE", default=500)
# Seconds a search's counts and facets are reused; any catalogue write starts afresh.
CATALOGUE_SEARCH_CACHE_SECONDS = env.int("CATALOGUE_SEARCH_CACHE_SECONDS", default=300)
# Seconds one request's computation of a search (after a catalogue write) holds the others:
# those without previous figures wait this long at most, then compute it themselves.
CATALOGUE_SEARCH_WAIT_SECONDS = env.int("CATALOGUE_SEARCH_WAIT_SECONDS", default=10)
# Seconds the category list's counts (the whole catalogue's, the same beside every search)
# are reused; any catalogue write starts afresh. Counting 100,000 reports takes 30-150 ms.
CATALOGUE_COUNTS_CACHE_SECONDS = env.int("CATALOGUE_COUNTS_CACHE_SECONDS", default=3600)
# Values listed per facet (region, segment, year...) beside the search results.
CATALOGUE_FACET_LIMIT = env.int("CATALOGUE_FACET_LIMIT", default=10)
# Values of a facet beyond those, behind its "more" (the page asks to narrow past these).
CATALOGUE_FACET_MORE_LIMIT = env.int("CATALOGUE_FACET_MORE_LIMIT", default=100)
# A search's total and facet counts are exact while its words match at most this many
# reports; beyond, they are estimated from a sample and shown as "about N".
CATALOGUE_SEARCH_EXACT_COUNT = env.int("CATALOGUE_SEARCH_EXACT_COUNT", default=1000)
# Matches counted for such an estimate (more: closer, slower): about 500 gives ±5 %.
CATALOGUE_SEARCH_SAMPLE_SIZE = env.int("CATALOGUE_SEARCH_SAMPLE_SIZE", default=500)
# URLs per sitemap file; above it /sitemap.xml becomes an index of files. 50,000 is the
# protocol's maximum (https://www.sitemaps.org/protocol.html#index).
SITEMAP_MAX_URLS = env.int("SITEMAP_MAX_URLS", default=50000)

# --- Quotes -------------------------------------------------------------------------------
# Days a special-price checkout link sent by sales stays valid.
QUOTE_VALID_DAYS = env.int("QUOTE_VALID_DAYS", default=14)

# --- New editions (orders/services/editions.py) ---------------------------------------------
# Buyers who paid within this many months before a new edition is published get it free (a
# freshly stamped copy for them and every seat); older buyers get an upgrade offer.
FREE_UPDATE_MONTHS = env.int("FREE_UPDATE_MONTHS", default=12)
# The upgrade offer's discount off the list price, in percent: the default of the field staff
# fill in when they publish an edition (admin: Report editions → Add), stored per edition.
NEW_EDITION_UPGRADE_DISCOUNT_PERCENT = env.int("NEW_EDITION_UPGRADE_DISCOUNT_PERCENT", default=30)

# --- Currencies ---------------------------------------------------------------------------
# Every licence has a list price in each of these (common/currency.py). A visitor who has
# not picked one sees prices in DEFAULT_CURRENCY.
CURRENCIES = ("USD", "EUR", "GBP")
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="USD").upper()
if DEFAULT_CURRENCY not in CURRENCIES:
    raise ImproperlyConfigured(f"DEFAULT_CURRENCY must be one of {', '.join(CURRENCIES)}")
# What one US dollar is worth in EUR and GBP, for filling a licence's EUR or GBP price left
# blank (admin, imports, the migration that introduced them): converted, then rounded to a
# whole ten. Staff set real prices in admin; these are a starting point, not a live rate.
CURRENCY_FALLBACK_RATES = {
    currency: Decimal(rate)
    for currency, rate in env.dict(
        "CURRENCY_FALLBACK_RATES", default={"EUR": "0.92", "GBP": "0.79"}
    ).items()
}
if set(CURRENCY_FALLBACK_RATES) != {"EUR", "GBP"}:
    raise ImproperlyConfigured("CURRENCY_FALLBACK_RATES names EUR and GBP, e.g. EUR=0.92,GBP=0.79")

# --- Pre-order enquiries ------------------------------------------------------------------
# Where each new enquiry is announced to sales (with a link to it in admin).
SALES_INBOX_EMAIL = env.str("SALES_INBOX_EMAIL", default="sales@localhost")
# "round_robin": each new enquiry goes to the next active member of the "Sales" group;
# "none": enquiries arrive unassigned.
ENQUIRY_ASSIGNMENT = env.str("ENQUIRY_ASSIGNMENT", default="round_robin")
if ENQUIRY_ASSIGNMENT not in ("round_robin", "none"):
    raise ValueError(f"ENQUIRY_ASSIGNMENT must be round_robin or none, not {ENQUIRY_ASSIGNMENT!r}")
# Enquiry form posts allowed per client (IPv4 address, IPv6 /64) and per email address within
# the window.
ENQUIRY_RATE_LIMIT_PER_IP = env.int("ENQUIRY_RATE_LIMIT_PER_IP", default=10)
ENQUIRY_RATE_LIMIT_PER_EMAIL = env.int("ENQUIRY_RATE_LIMIT_PER_EMAIL", default=5)
ENQUIRY_RATE_LIMIT_WINDOW_SECONDS = env.int("ENQUIRY_RATE_LIMIT_WINDOW_SECONDS", default=3600)
# The same question from the same person about the same report within this many seconds is
# one enquiry (a double click or a reload), not two.
ENQUIRY_DUPLICATE_WINDOW_SECONDS = env.int("ENQUIRY_DUPLICATE_WINDOW_SECONDS", default=600)
# First-answer promise, in business hours (8 = one business day), and the sales team's
# working day (Monday–Friday, local hours in ENQUIRY_BUSINESS_TIME_ZONE).
ENQUIRY_SLA_BUSINESS_HOURS = env.int("ENQUIRY_SLA_BUSINESS_HOURS", default=8)
ENQUIRY_BUSINESS_DAY_START_HOUR = env.int("ENQUIRY_BUSINESS_DAY_START_HOUR", default=9)
ENQUIRY_BUSINESS_DAY_END_HOUR = env.int("ENQUIRY_BUSINESS_DAY_END_HOUR", default=17)
ENQUIRY_BUSINESS_TIME_ZONE = env.str("ENQUIRY_BUSINESS_TIME_ZONE", default=TIME_ZONE)
# Attempts to prepare a reply's stamped sample (the PDF may still be rendering) before the
# reply is marked failed; the first retry waits this many seconds, doubling each time.
ENQUIRY_REPLY_MAX_ATTEMPTS = env.int("ENQUIRY_REPLY_MAX_ATTEMPTS", default=8)
ENQUIRY_REPLY_RETRY_BACKOFF_SECONDS = env.int("ENQUIRY_REPLY_RETRY_BACKOFF_SECONDS", default=15)
# --- Sample requests ----------------------------------------------------------------------
# The same email asking for the same report again within this many hours gets the existing
# stamped sample re-sent instead of a new request.
SAMPLE_DEDUPE_HOURS = env.int("SAMPLE_DEDUPE_HOURS", default=24)
# Accepted sample requests per client (an IPv4 address or an IPv6 /64) and per email address,
# per window.
SAMPLE_RATE_LIMIT_PER_IP = env.int("SAMPLE_RATE_LIMIT_PER_IP", default=10)
SAMPLE_RATE_LIMIT_PER_EMAIL = env.int("SAMPLE_RATE_LIMIT_PER_EMAIL", default=5)
SAMPLE_RATE_LIMIT_WINDOW_SECONDS = env.int("SAMPLE_RATE_LIMIT_WINDOW_SECONDS", default=3600)
# Where to email each new sample lead (empty: no staff notification).
SAMPLE_NOTIFY_EMAIL = env.str("SAMPLE_NOTIFY_EMAIL", default="")
# Stamping attempts (the base sample may still be rendering) before a request is marked
# failed; the first retry waits SAMPLE_PREPARE_RETRY_SECONDS, doubling each attempt.
SAMPLE_PREPARE_MAX_ATTEMPTS = env.int("SAMPLE_PREPARE_MAX_ATTEMPTS", default=10)
SAMPLE_PREPARE_RETRY_SECONDS = env.int("SAMPLE_PREPARE_RETRY_SECONDS", default=2)
# Seconds between refreshes of the visitor's status page while the sample is on its way.
SAMPLE_STATUS_REFRESH_SECONDS = env.int("SAMPLE_STATUS_REFRESH_SECONDS", default=3)

# --- Many machines ------------------------------------------------------------------------
# Behind PgBouncer (or another pooler) in transaction mode, a server-side cursor (the CSV
# exports stream rows with .iterator()) cannot outlive its transaction: turn them off.
# https://docs.djangoproject.com/en/stable/ref/databases/#transaction-pooling-server-side-cursors
DATABASE_DISABLE_SERVER_SIDE_CURSORS = env.bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
)
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_DISABLE_SERVER_SIDE_CURSORS

# --- Scheduled housekeeping (Celery beat) -------------------------------------------------
# Stripe reconciliation: every this many seconds, ask Stripe for the Checkout Sessions,
# refunds and disputes of the last STRIPE_RECONCILE_HOURS and bring orders in step (what a
# webhook outage made us miss). `manage.py stripe_reconcile` does the same by hand.
STRIPE_RECONCILE_INTERVAL_SECONDS = env.int("STRIPE_RECONCILE_INTERVAL_SECONDS", default=3600)
STRIPE_RECONCILE_HOURS = env.int("STRIPE_RECONCILE_HOURS", default=72)
# Download links dead (expired or revoked) for this many days are deleted; the download log
# keeps its rows. A buyer opening such an old link sees "not valid" instead of "expired".
DOWNLOAD_LINK_PURGE_AFTER_DAYS = env.int("DOWNLOAD_LINK_PURGE_AFTER_DAYS", default=90)
DOWNLOAD_LINK_PURGE_INTERVAL_SECONDS = env.int(
    "DOWNLOAD_LINK_PURGE_INTERVAL_SECONDS", default=86400
)
# Django's `clearsessions`: expired sessions are deleted this often.
SESSION_CLEAR_INTERVAL_SECONDS = env.int("SESSION_CLEAR_INTERVAL_SECONDS", default=86400)
CELERY_BEAT_SCHEDULE |= {
    "stripe-reconcile": {
        "task": "reports.tasks.stripe_reconcile",
        "schedule": STRIPE_RECONCILE_INTERVAL_SECONDS,
    },
    "download-links-purge": {
        "task": "reports.tasks.download_links_purge",
        "schedule": DOWNLOAD_LINK_PURGE_INTERVAL_SECONDS,
    },
    "sessions-clear-expired": {
        "task": "common.tasks.sessions_clear_expired",
        "schedule": SESSION_CLEAR_INTERVAL_SECONDS,
    },
}
# Related reports on the report page (reports/services/related.py), recomputed by beat this
# often and stored with the report (no query per page view): up to RELATED_REPORTS_COUNT
# similar ones (same category and markets) and as many "readers who requested this sample
# also requested", counting only pairs of reports at least RELATED_MIN_PAIRS distinct people
# asked about, so no single person's interest can be read from the page.
RELATED_REFRESH_INTERVAL_SECONDS = env.int("RELATED_REFRESH_INTERVAL_SECONDS", default=3600)
RELATED_REPORTS_COUNT = env.int("RELATED_REPORTS_COUNT", default=4)
RELATED_MIN_PAIRS = env.int("RELATED_MIN_PAIRS", default=3)
if RELATED_MIN_PAIRS < 2:
    raise ImproperlyConfigured("RELATED_MIN_PAIRS must be at least 2 (one person's interest)")
CELERY_BEAT_SCHEDULE["related-reports-refresh"] = {
    "task": "reports.tasks.related_reports_refresh",
    "schedule": RELATED_REFRESH_INTERVAL_SECONDS,
}

# --- Staff sign-in: lockout and second factor ----------------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins while locked out
    "django.contrib.auth.backends.ModelBackend",
    # Buyers' sign-in links; it only ever accepts buyer accounts, never staff.
    "accounts.backends.BuyerTokenBackend",
]
# Failed admin sign-ins (a wrong password, or a wrong authenticator code) before a lockout,
# and how long it lasts. Counted per (username, client address) pair: failures from one
# address never lock the person out at another (smosite/staff/lockout.py). An address that
# fails for any usernames this many times is locked for every username (a whole office may
# share one address: keep it well above the first). `manage.py axes_reset_username <name>` /
# `axes_reset_ip <address>`, or deleting the "access attempt" in admin, unlocks early.
ADMIN_LOGIN_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
ADMIN_LOGIN_LOCKOUT_MINUTES = env.int("ADMIN_LOGIN_LOCKOUT_MINUTES", default=30)
AXES_HANDLER = "smosite.staff.lockout.StaffLockoutHandler"
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_CLIENT_IP_CALLABLE = "smosite.staff.lockout.client_address"
AXES_USERNAME_CALLABLE = "smosite.staff.lockout.username"
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # its INFO lines name the person and their address
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]
# Staff must confirm each sign-in with an authenticator app (TOTP); staff without one are
# sent to set it up. Off by default here, on by default in production.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=False)
# A first authenticator is set up with the password and a one-time link emailed to the staff
# member (or printed by `manage.py two_factor_link`); the link works this many minutes.
ADMIN_2FA_ENROLMENT_LINK_MINUTES = env.int("ADMIN_2FA_ENROLMENT_LINK_MINUTES", default=60)
OTP_TOTP_ISSUER = PUBLISHER_NAME
# Nobody, superusers included, can read another person's authenticator key in admin (it
# would let them copy that person's second factor); a lost phone means delete and enrol.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Privacy: how long personal data is kept ---------------------------------------------
# The purge (Celery beat, privacy/tasks.py) deletes what is past these; orders
# stay as accounting records (staff erase a buyer's data on request).
# Sample requests and enquiries untouched this long are deleted, with their replies,
# stamped PDFs and emails; then contacts left with nothing.
LEAD_RETENTION_DAYS = env.int("LEAD_RETENTION_DAYS", default=730)
# Mail-log bodies (text, HTML, attachment) of sent or failed emails are dropped after this;
# the row stays as the record that the email was sent.
MAIL_BODY_RETENTION_DAYS = env.int("MAIL_BODY_RETENTION_DAYS", default=90)
# Deleting an erased or purged person's PDFs from private storage is retried while the
# storage fails: attempts (backoff doubles up to JOB_RETRY_MAX_DELAY_SECONDS; 100 attempts
# are about eight hours), then the daily purge starts it again.
PRIVATE_FILE_DELETE_MAX_ATTEMPTS = env.int("PRIVATE_FILE_DELETE_MAX_ATTEMPTS", default=100)
PRIVATE_FILE_DELETE_RETRY_SECONDS = env.int("PRIVATE_FILE_DELETE_RETRY_SECONDS", default=30)
# Stored Stripe webhook payloads (buyer name, email, address) are emptied after this.
STRIPE_EVENT_RETENTION_DAYS = env.int("STRIPE_EVENT_RETENTION_DAYS", default=90)
# Status and owner history of enquiries (django-simple-history rows).
HISTORY_RETENTION_DAYS = env.int("HISTORY_RETENTION_DAYS", default=730)
# Admin sign-in logs (django-axes) and the addresses logged with each report download.
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=90)
PRIVACY_PURGE_INTERVAL_SECONDS = env.int("PRIVACY_PURGE_INTERVAL_SECONDS", default=86400)
CELERY_BEAT_SCHEDULE["privacy-purge"] = {
    "task": "enquiries.tasks.privacy_purge",
    "schedule": PRIVACY_PURGE_INTERVAL_SECONDS,
}

# --- Customers' replies: the inbound mailbox (smosite/settings/inbound.py) ------------------
from .inbound import *  # noqa: E402, F403
from .inbound import INBOUND_POLL_INTERVAL_SECONDS  # noqa: E402

CELERY_BEAT_SCHEDULE["inbound-mailbox-poll"] = {
    "task": "enquiries.tasks.inbound_mailbox_poll",
    "schedule": INBOUND_POLL_INTERVAL_SECONDS,
    # A tick not started within its interval is dropped: the next one reads the same mailbox.
    "options": {"queue": "default", "expires": INBOUND_POLL_INTERVAL_SECONDS},
}

# --- The sales desk: lead scores, leads to call, the dashboard (smosite/settings/sales.py) ---
from .sales import *  # noqa: E402, F403
from .sales import SALES_BEAT_SCHEDULE  # noqa: E402

CELERY_BEAT_SCHEDULE |= SALES_BEAT_SCHEDULE

# --- Marketing email: consent, sample follow-ups, alerts for new reports --------------------
from .marketing import *  # noqa: E402, F403
from .marketing import MARKETING_BEAT_SCHEDULE  # noqa: E402

CELERY_BEAT_SCHEDULE |= MARKETING_BEAT_SCHEDULE

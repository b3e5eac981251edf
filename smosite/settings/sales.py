"""The sales desk's settings (sales/): lead scoring, the "Leads to call" list and the
dashboard. Kept in a file of their own, as STYLE.md asks of settings grouped by concern;
base.py imports everything here. `.env` was already read into the environment by base.py."""

import environ

env = environ.Env()

# --- Lead score: points per rule (README, "Lead score") ------------------------------------
# An address at a company's own domain, and (negative) one at a free-mail provider.
LEAD_SCORE_COMPANY_EMAIL = env.int("LEAD_SCORE_COMPANY_EMAIL", default=15)
LEAD_SCORE_FREE_MAIL = env.int("LEAD_SCORE_FREE_MAIL", default=-10)
# The company domain has no MX record (nobody can receive mail there): flagged, and these
# points (negative). A lookup that timed out scores nothing and is tried again next time.
LEAD_SCORE_NO_MX = env.int("LEAD_SCORE_NO_MX", default=-25)
# A job title containing one of LEAD_SENIOR_TITLE_WORDS (whole words, any case).
LEAD_SCORE_SENIOR_TITLE = env.int("LEAD_SCORE_SENIOR_TITLE", default=20)
LEAD_SENIOR_TITLE_WORDS = env.list(
    "LEAD_SENIOR_TITLE_WORDS",
    default=[
        "chief", "ceo", "cfo", "coo", "cto", "cmo", "president", "vp", "vice president",
        "director", "head", "partner", "founder", "owner", "principal",
    ],
)  # fmt: skip
# The contact's country is one of LEAD_TARGET_COUNTRIES (ISO 3166 codes).
LEAD_SCORE_TARGET_COUNTRY = env.int("LEAD_SCORE_TARGET_COUNTRY", default=10)
LEAD_TARGET_COUNTRIES = env.list(
    "LEAD_TARGET_COUNTRIES", default=["US", "GB", "DE", "FR", "CH", "NL", "JP"]
)
# Each sample request after the first, up to LEAD_SCORE_REPEAT_SAMPLES_MAX points in all.
LEAD_SCORE_REPEAT_SAMPLE = env.int("LEAD_SCORE_REPEAT_SAMPLE", default=10)
LEAD_SCORE_REPEAT_SAMPLES_MAX = env.int("LEAD_SCORE_REPEAT_SAMPLES_MAX", default=30)
# At least one enquiry (spam excluded).
LEAD_SCORE_ENQUIRY = env.int("LEAD_SCORE_ENQUIRY", default=25)
# A sample, enquiry or order that landed from a campaign (utm_source or utm_campaign set).
LEAD_SCORE_CAMPAIGN = env.int("LEAD_SCORE_CAMPAIGN", default=10)
# A checkout started and never paid (an order pending, expired or failed, none paid).
LEAD_SCORE_ABANDONED_CHECKOUT = env.int("LEAD_SCORE_ABANDONED_CHECKOUT", default=30)

# --- The email domain's MX lookup (dnspython) ----------------------------------------------
# Seconds for the whole lookup (every nameserver and retry): it runs in the scoring task,
# never in a request, but a slow resolver must not stall a batch.
LEAD_MX_TIMEOUT_SECONDS = env.float("LEAD_MX_TIMEOUT_SECONDS", default=2.0)
# How long an answer ("has MX" or "none") is kept in the cache, per domain.
LEAD_MX_CACHE_SECONDS = env.int("LEAD_MX_CACHE_SECONDS", default=86400)
# Nameserver addresses to ask (comma-separated) and their port; empty: the system's
# resolver (/etc/resolv.conf).
LEAD_DNS_NAMESERVERS = env.list("LEAD_DNS_NAMESERVERS", default=[])
LEAD_DNS_PORT = env.int("LEAD_DNS_PORT", default=53)

# --- Recomputing scores (Celery beat, sales/tasks.py) ---------------------------------------
# A sample, enquiry, order or contact change marks the contact's score stale; this task
# rescores the stale ones this often (the MX lookup stays out of the request).
LEAD_SCORE_STALE_INTERVAL_SECONDS = env.int("LEAD_SCORE_STALE_INTERVAL_SECONDS", default=60)
# Every contact is rescored this often (the MX answers expire, weights change).
LEAD_SCORE_ALL_INTERVAL_SECONDS = env.int("LEAD_SCORE_ALL_INTERVAL_SECONDS", default=86400)
# Contacts scored per database round trip.
LEAD_SCORE_BATCH_SIZE = env.int("LEAD_SCORE_BATCH_SIZE", default=2000)

# --- Leads to call ----------------------------------------------------------------------------
# A lead scoring at least this joins the list, gets an owner (round-robin among the active
# members of the "Sales" group) and a due date this many hours later.
LEAD_CALL_MIN_SCORE = env.int("LEAD_CALL_MIN_SCORE", default=50)
LEAD_CALL_DUE_HOURS = env.int("LEAD_CALL_DUE_HOURS", default=24)

# --- Dashboard -------------------------------------------------------------------------------
# The date range shown when none is chosen, and the rows per table (charts and tables show
# the largest; the CSV download has them all).
SALES_DASHBOARD_DEFAULT_DAYS = env.int("SALES_DASHBOARD_DEFAULT_DAYS", default=90)
SALES_DASHBOARD_TOP_ROWS = env.int("SALES_DASHBOARD_TOP_ROWS", default=15)
# Drawn charts are kept in the cache under a digest of their numbers (the same numbers are
# not drawn twice; new numbers make a new chart): how long an unused one is kept.
SALES_DASHBOARD_CHART_CACHE_SECONDS = env.int("SALES_DASHBOARD_CHART_CACHE_SECONDS", default=86400)
# The computed figures of a date range are kept in the cache this long (0: never kept). A new
# or changed sample, enquiry, order or contact retires them at once (sales/selectors/kept.py);
# this bounds only what bypasses the model signals (queryset updates, deletes, raw SQL).
SALES_DASHBOARD_CACHE_SECONDS = env.int("SALES_DASHBOARD_CACHE_SECONDS", default=600)
# How often beat computes the default range's figures when none are kept (0: never), so the
# first visit after new rows rarely waits for them.
SALES_DASHBOARD_WARM_SECONDS = env.int("SALES_DASHBOARD_WARM_SECONDS", default=60)
# Database connections the figures are computed on at once (the leads' grouping beside the
# other queries; 1: one after another on the request's own connection).
SALES_DASHBOARD_QUERY_THREADS = env.int("SALES_DASHBOARD_QUERY_THREADS", default=2)

SALES_BEAT_SCHEDULE = {
    "leads-rescore-stale": {
        "task": "sales.tasks.leads_rescore_stale",
        "schedule": LEAD_SCORE_STALE_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
    "leads-rescore-all": {
        "task": "sales.tasks.leads_rescore_all",
        "schedule": LEAD_SCORE_ALL_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
}
if SALES_DASHBOARD_WARM_SECONDS > 0 and SALES_DASHBOARD_CACHE_SECONDS > 0:
    SALES_BEAT_SCHEDULE["sales-dashboard-warm"] = {
        "task": "sales.tasks.sales_dashboard_warm",
        "schedule": SALES_DASHBOARD_WARM_SECONDS,
        "options": {"queue": "default", "expires": SALES_DASHBOARD_WARM_SECONDS},
    }

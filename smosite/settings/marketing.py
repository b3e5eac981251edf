"""Marketing email: consent, follow-ups after a sample, alerts for new reports (README,
"Consent and marketing email"). Imported at the end of base.py; read from the environment
like every other setting."""

import environ

env = environ.Env()

# Working hours in which marketing email goes out, in the person's local time (their
# country's time zone, contacts/services/send_window.py): from START to END o'clock on these
# ISO weekdays (1 = Monday … 7 = Sunday).
MARKETING_SEND_HOUR_START = env.int("MARKETING_SEND_HOUR_START", default=9)
MARKETING_SEND_HOUR_END = env.int("MARKETING_SEND_HOUR_END", default=17)
MARKETING_SEND_WEEKDAYS = [
    int(d) for d in env.list("MARKETING_SEND_WEEKDAYS", default=["1", "2", "3", "4", "5"])
]
# The time zone of a contact whose country is unknown or not in the map.
MARKETING_DEFAULT_TIME_ZONE = env.str("MARKETING_DEFAULT_TIME_ZONE", default="Europe/London")
# An address that unsubscribes by email, offered in List-Unsubscribe next to the one-click
# URL (RFC 8058); blank: the URL only. Mail to it is handled by whoever reads that inbox.
MARKETING_UNSUBSCRIBE_MAILTO = env.str("MARKETING_UNSUBSCRIBE_MAILTO", default="")

# Sample follow-ups: how often the beat task looks for due steps, and at most how many
# sequences one run advances.
FOLLOWUP_SWEEP_INTERVAL_SECONDS = env.int("FOLLOWUP_SWEEP_INTERVAL_SECONDS", default=900)
FOLLOWUP_BATCH = env.int("FOLLOWUP_BATCH", default=500)

# Alerts for new reports: a digest at most every this many days per person, listing at most
# this many reports per category; how long a confirmation link works; the sign-up form's
# rate limit (per client and per address, each) and its window; how often the beat task runs.
ALERT_DIGEST_INTERVAL_DAYS = env.int("ALERT_DIGEST_INTERVAL_DAYS", default=7)
ALERT_DIGEST_MAX_REPORTS = env.int("ALERT_DIGEST_MAX_REPORTS", default=20)
ALERT_CONFIRM_DAYS = env.int("ALERT_CONFIRM_DAYS", default=7)
ALERT_RATE_LIMIT = env.int("ALERT_RATE_LIMIT", default=5)
ALERT_RATE_LIMIT_WINDOW_SECONDS = env.int("ALERT_RATE_LIMIT_WINDOW_SECONDS", default=3600)
ALERT_DIGEST_INTERVAL_SECONDS = env.int("ALERT_DIGEST_INTERVAL_SECONDS", default=3600)

MARKETING_BEAT_SCHEDULE = {
    "followups-send-due": {
        "task": "enquiries.tasks.followups_send_due",
        "schedule": FOLLOWUP_SWEEP_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
    "alerts-digest-send": {
        "task": "reports.tasks.alerts_digest_send",
        "schedule": ALERT_DIGEST_INTERVAL_SECONDS,
        "options": {"queue": "default"},
    },
}

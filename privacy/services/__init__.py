"""A person's data on request, erased on request, and never kept past its purpose.

- `contact_data_export`: everything we hold about one contact (the contact, sample requests,
  enquiries with replies, orders with downloads, the emails sent to them) as plain data.
- `contact_erase`: the right to erasure. Leads are anonymised in place (the rows keep the
  report, dates, statuses and campaign, so the statistics stay right), personalised PDFs
  are deleted from private storage (by a job retried while the storage fails), mail-log
  bodies dropped, orders kept as anonymised accounting rows (reference, amounts, dates; no
  buyer), Stripe payloads emptied (also of events that name the person without an order),
  errors and notes quoting the person's addresses or names scrubbed.
- `personal_data_purge`: the scheduled clean-up (Celery beat, PRIVACY_PURGE_INTERVAL_SECONDS)
  of what is past its retention setting.
"""

from .erasure import contact_erase
from .export import contact_data_export, contact_emails
from .retention import personal_data_purge

__all__ = [
    "contact_data_export",
    "contact_emails",
    "contact_erase",
    "personal_data_purge",
]

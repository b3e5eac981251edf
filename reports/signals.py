"""What the catalogue tells the apps above it (they listen; the catalogue imports none of them)."""

from django.dispatch import Signal

# Sent inside the transaction in which reports that already existed became published (the
# admin's save, an import), with `reports`: a list of them. Enquiries listens: whoever asked
# about a report while it was upcoming hears that it is out (enquiries/receivers.py).
report_published = Signal()

# Sent inside the transaction in which staff published a new edition of a report (a
# `ReportEdition`, with `edition`), again when the same edition is published again. Orders
# listens: recent buyers get the new edition, older ones an upgrade offer
# (orders/services/editions.py), each person once.
report_edition_published = Signal()

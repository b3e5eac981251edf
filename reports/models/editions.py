"""A report's editions: staff publishing a new version of a report for its buyers.

The report's content changes with every edit (each change is a new rendered version,
reports/models/documents.py), and most edits are corrections nobody should be emailed
about. An edition is the deliberate act: staff "publish a new edition" (admin: Report
editions → Add), which sets the report's cover date (`edition_date`) and tells the apps
above (`reports.signals.report_edition_published`): orders sends the new edition to recent
buyers and an upgrade offer to older ones (orders/services/editions.py)."""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from .catalogue import Report


class ReportEdition(models.Model):
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="editions")
    edition_date = models.DateField(help_text="The new date printed on the report's cover.")
    upgrade_discount_percent = models.PositiveSmallIntegerField(
        "upgrade discount (%)",
        validators=[MaxValueValidator(90)],
        help_text="Off the list price, for buyers whose free-update period is over.",
    )
    note = models.CharField(
        max_length=300, blank=True, help_text="What is new: quoted in the buyers' emails."
    )
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "edition_date"], name="uniq_report_edition_date"
            ),
        ]

    def __str__(self):
        return f"{self.report.number} edition of {self.edition_date:%-d %B %Y}"

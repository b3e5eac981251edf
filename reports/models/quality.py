"""Staff's acknowledgements of quality-check errors. A report with an error nobody has
acknowledged cannot be published (reports/services/publishing.py)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .catalogue import Report


class QualityAcknowledgement(models.Model):
    """One error of one report, accepted by a named person with a reason. It matches the
    error by its wording (`fingerprint`): when the error changes (another figure, another
    text), it is a new error and needs a new acknowledgement."""

    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, related_name="quality_acknowledgements"
    )
    code = models.CharField(max_length=60)
    message = models.TextField(help_text="The error as the check worded it.")
    fingerprint = models.CharField(max_length=64, editable=False)
    note = models.TextField(help_text="Why the report may be published with this error.")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    acknowledged_by_name = models.CharField(
        max_length=150, help_text="Who acknowledged it (kept if the user is deleted)."
    )
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["report", "acknowledged_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "fingerprint"], name="uniq_acknowledgement_per_error"
            )
        ]

    def __str__(self):
        return f"{self.report.number}: {self.code} acknowledged by {self.acknowledged_by_name}"

"""Related reports, computed ahead of time (reports/services/related.py) so that the report
page shows them without a query of its own: the page's one report query joins this row."""

from django.db import models

from .catalogue import Report


class RelatedReports(models.Model):
    """What the report page lists under "Related reports". Each list holds small cards
    (number, slug, title) rather than ids, so rendering them needs no further query; a beat
    task rewrites them every RELATED_REFRESH_INTERVAL_SECONDS."""

    report = models.OneToOneField(
        Report, primary_key=True, on_delete=models.CASCADE, related_name="related_reports"
    )
    # Same category, sharing the most regional markets, newest first.
    similar = models.JSONField(default=list, blank=True)
    # "Readers who requested this sample also requested": only pairs of reports at least
    # RELATED_MIN_PAIRS different people both asked about, so no one person's interest shows.
    also_requested = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "related reports"

    def __str__(self):
        return f"Related to {self.report_id}"

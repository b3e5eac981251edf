"""Rendered PDFs. A report's content (plus the PDF templates) hashes to a version; each
version is rendered once per kind (full report, sample) and every personal copy is that base
render stamped with the reader's name (reports/services/documents.py)."""

from django.db import models

from .catalogue import Report


class ReportDocument(models.Model):
    class Kind(models.TextChoices):
        FULL = "full", "Full report"
        SAMPLE = "sample", "Sample"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the report's content and the PDF templates."
    )
    version = models.PositiveIntegerField(
        help_text="Counts the report's content versions; the full report and the sample of "
        "the same content share a version."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file_path = models.CharField(
        max_length=500, blank=True, help_text="Path in the private storage."
    )
    error = models.TextField(blank=True)
    page_count = models.PositiveSmallIntegerField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    render_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField()
    rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["report", "-version", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "kind", "content_hash"], name="uniq_document_per_content"
            ),
            models.UniqueConstraint(
                fields=["report", "kind", "version"], name="uniq_document_version"
            ),
        ]

    def __str__(self):
        return f"{self.report.number} {self.get_kind_display()} v{self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

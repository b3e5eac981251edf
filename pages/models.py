from django.conf import settings
from django.db import models


class PageVersion(models.Model):
    """One version of a page. A published version is never edited again: changing a word
    means writing the next version and publishing it, so the terms an order accepted stay
    readable exactly as the buyer saw them."""

    class Page(models.TextChoices):
        TERMS = "terms", "Terms of sale"
        REFUNDS = "refunds", "Refund policy"
        CONTACT = "contact", "Contact"
        ABOUT = "about", "About us"

    page = models.CharField(max_length=20, choices=Page.choices)
    number = models.PositiveIntegerField(editable=False)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Plain text; a blank line starts a new paragraph.")
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["page", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["page", "number"], name="page_version_unique_number")
        ]

    def __str__(self) -> str:
        state = "" if self.published_at else " (draft)"
        return f"{self.get_page_display()}, version {self.number}{state}"

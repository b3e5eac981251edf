"""The sales desk: each contact's lead score with the reasons behind it, and the calls staff
log against the leads worth calling.

This app sits above enquiries (and so above orders and contacts) because a score reads all
of them: samples, enquiries, orders, attribution. Nothing below imports it; it learns of
changes through Django's model signals (sales/receivers.py)."""

from django.conf import settings
from django.db import models

from contacts.models import Contact


class Lead(models.Model):
    """One row per scored contact. `score` and `reasons` are recomputed by the scoring
    service (sales/services/scoring.py); owner and due date are given once, when the lead
    first reaches LEAD_CALL_MIN_SCORE."""

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached"
        NO_ANSWER = "no_answer", "No answer"
        NOT_INTERESTED = "not_interested", "Not interested"
        QUOTE_SENT = "quote_sent", "Sent a quote"

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="lead")
    score = models.IntegerField(default=0, db_index=True)
    # [{"rule": "enquiry", "points": 25, "text": "sent an enquiry"}, …] in rule order.
    reasons = models.JSONField(default=list, blank=True)
    mx_flagged = models.BooleanField(
        "no MX record", default=False, help_text="The email domain has no mail server."
    )
    # Set by the signal receivers when something the score reads changed; `scored_at` is
    # when the facts of the current score were read. Stale: changed at or after that (two
    # times, not a flag a running rescore could clear over a newer change).
    changed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    # The first paid order: a lead who bought leaves the list.
    bought_at = models.DateTimeField(null=True, blank=True, db_index=True)
    listed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the score first reached the call threshold."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
    )
    # Whom the round-robin picked (never changed afterwards): the rotation's cursor, as on
    # enquiries, so a manual reassignment doesn't skip anyone's turn.
    auto_assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    due_at = models.DateTimeField("call due", null=True, blank=True)
    last_outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    last_called_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "pk"]
        verbose_name = "lead to call"
        verbose_name_plural = "leads to call"
        permissions = [("view_dashboard", "Can view the sales dashboard")]
        indexes = [models.Index(fields=["bought_at", "-score"])]

    def __str__(self):
        return f"{self.contact} ({self.score})"

    @property
    def reasons_text(self) -> str:
        return "; ".join(f"{r['text']} ({r['points']:+d})" for r in self.reasons)


class LeadCall(models.Model):
    """A call staff made to a lead, and how it went."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="calls")
    outcome = models.CharField(max_length=16, choices=Lead.Outcome.choices)
    note = models.TextField(blank=True, max_length=2000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "call"

    def __str__(self):
        return f"{self.get_outcome_display()} on {self.created_at:%Y-%m-%d}"

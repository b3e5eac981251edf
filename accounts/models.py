from django.db import models


class SignInRequest(models.Model):
    """A visitor asked for a sign-in link. The web request only records it (the same work
    for any address, so neither the answer nor its timing says whether the address has
    bought); the "account.sign_in_link" job looks for orders and, if there are any, emails
    the link. The address is blanked once handled."""

    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Sign-in request {self.pk}"

"""The search vocabulary: every word of the catalogue's titles, market names and key
players, so that a mistyped word can be matched to the words reports really use."""

from django.db import models


class SearchTerm(models.Model):
    # On PostgreSQL a trigram index (migration 0005) finds the nearest terms; elsewhere the
    # vocabulary is matched in Python with rapidfuzz (reports/search/spelling.py).
    term = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["term"]

    def __str__(self):
        return self.term

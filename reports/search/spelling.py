"""Typo tolerance: a word the vocabulary (titles, market names, key players) does not know
is matched to the known words within one edit (two for long words) — an insertion, a
deletion, a substitution or two letters swapped — and the search asks for those too.

Candidates come from a trigram index on PostgreSQL (the nearest words by pg_trgm distance)
and from rapidfuzz over the whole vocabulary elsewhere; both are then held to the same edit
distance, so SQLite (`make run`) and PostgreSQL correct the same words."""

import threading
from dataclasses import dataclass

from django.db import connections
from rapidfuzz import process
from rapidfuzz.distance import OSA

from ..models import SearchTerm

MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
CANDIDATES = 24


@dataclass(frozen=True)
class WordGroup:
    """A word of the query and the known words the search also accepts for it."""

    word: str
    alternatives: tuple[str, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        return (self.word, *self.alternatives)


def max_edits(word: str, *, loose: bool = False) -> int:
    """One edit for ordinary words, two for long ones; `loose` (for "did you mean") allows
    one more."""
    if len(word) < MIN_LENGTH or not word.isalpha():
        return 0
    edits = 1 if len(word) < 9 else 2
    return edits + 1 if loose else edits


def known_words(words: list[str], *, using: str = "default") -> set[str]:
    return set(
        SearchTerm.objects.using(using).filter(term__in=words).values_list("term", flat=True)
    )


def nearest(word: str, *, edits: int, using: str = "default") -> list[str]:
    """Known words within `edits` of `word`, nearest first (then alphabetical)."""
    if edits <= 0:
        return []
    if connections[using].vendor == "postgresql":
        candidates = _postgres_candidates(word, using)
    else:
        candidates = _vocabulary(using)
    matches = process.extract(
        word, candidates, scorer=OSA.distance, score_cutoff=edits, limit=CANDIDATES
    )
    return [term for term, _distance, _index in sorted(matches, key=lambda m: (m[1], m[0]))]


def word_groups(words: list[str], *, using: str = "default") -> list[WordGroup]:
    """Each query word with its corrections, when the vocabulary does not know it."""
    known = known_words(words, using=using)
    groups = []
    for word in words:
        alternatives = () if word in known else nearest(word, edits=max_edits(word), using=using)
        groups.append(WordGroup(word, tuple(alternatives[:3])))
    return groups


def suggestion_words(words: list[str], *, using: str = "default") -> list[str] | None:
    """The query with each unknown word replaced by the nearest known one (looser than the
    corrections a search makes by itself); None when nothing would change."""
    known = known_words(words, using=using)
    suggested = []
    for word in words:
        near = (
            [] if word in known else nearest(word, edits=max_edits(word, loose=True), using=using)
        )
        suggested.append(near[0] if near else word)
    return suggested if suggested != words else None


def _postgres_candidates(word: str, using: str) -> list[str]:
    """The nearest words by trigram distance, from the GiST index (migration 0005)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT term FROM reports_searchterm ORDER BY term <-> %s LIMIT %s",
            [word, CANDIDATES * 2],
        )
        return [row[0] for row in cursor.fetchall()]


_vocabulary_cache: dict[str, tuple[tuple, list[str]]] = {}
_vocabulary_lock = threading.Lock()


def _vocabulary(using: str) -> list[str]:
    """The whole vocabulary, read again only when it grew (it is append-only)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*), max(id) FROM reports_searchterm")
        marker = tuple(cursor.fetchone())
    cached = _vocabulary_cache.get(using)
    if cached and cached[0] == marker:
        return cached[1]
    terms = list(SearchTerm.objects.using(using).values_list("term", flat=True))
    with _vocabulary_lock:
        _vocabulary_cache[using] = (marker, terms)
    return terms

"""Words as search sees them, the same on PostgreSQL and SQLite: lower-cased runs of
letters and digits, without the English stop words PostgreSQL's `english` configuration
drops (so that SQLite's FTS5, which has no stop words, asks for the same words)."""

import re

WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 8
MAX_TERM_LENGTH = 60

# PostgreSQL's english.stop (snowball), the words it never indexes.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can did do does doing don down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such t than that the their theirs them
    themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with you your yours yourself yourselves
    """.split()
)


def words(text: str) -> list[str]:
    """Every word of a text, in order, lower-cased; stop words included."""
    return WORD.findall((text or "").lower())


def query_words(query: str) -> list[str]:
    """The words a search asks for: no stop words, no repeats, at most MAX_QUERY_WORDS."""
    seen: list[str] = []
    for word in words(query):
        if word not in STOP_WORDS and word not in seen and len(word) <= MAX_TERM_LENGTH:
            seen.append(word)
    return seen[:MAX_QUERY_WORDS]


def vocabulary_words(*texts: str) -> set[str]:
    """The words a report adds to the vocabulary typos are matched against: letters only
    (numbers are not corrected), two letters or more, no stop words."""
    found = set()
    for text in texts:
        for word in words(text):
            if len(word) > 1 and word.isalpha() and word not in STOP_WORDS:
                found.add(word[:MAX_TERM_LENGTH])
    return found

"""Full-text matching, per database vendor. A query is a list of word groups: a report
matches when it has, for every group, the word or one of its corrections (in its title,
market name, key players or summary, stemmed: "trials" finds "trial").

`where` narrows the match to one part of the report — "title" (the title and market name)
or "players" (the key players' names) — for the ranking's tiers (ranking.py): PostgreSQL
reads the stored `search_title` / `search_players` tsvectors (each with its own GIN index),
SQLite an FTS5 column filter."""

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from .schema import FTS_TABLE
from .spelling import WordGroup

# Where a match is looked for: the PostgreSQL column, the FTS5 columns.
WHERE = {
    None: ("search_document", ""),
    "title": ("search_title", "{title market_name} : "),
    "players": ("search_players", "{key_player_names} : "),
}


class OnReports(RawSQL):
    """RawSQL whose `{table}` becomes the reports table as the query names it: "reports_report",
    or an alias like U0 when the query is a subquery (the facets count through those)."""

    def as_sql(self, compiler, connection):
        table = compiler.quote_name(compiler.query.base_table)
        return f"({self.sql.format(table=table)})", self.params


def match_condition(groups: list[WordGroup], *, using: str, where: str | None = None) -> OnReports:
    """The condition "the report matches", in `where` (None: anywhere)."""
    column, columns = WHERE[where]
    if connections[using].vendor == "postgresql":
        sql, params = _tsquery(groups)
        condition = f"{{table}}.{column} @@ ({sql})"
    else:
        params = [columns + "(" + fts5_expression(groups) + ")"]
        condition = f"{{table}}.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)"  # noqa: S608
    # The SQL holds only constants; every word goes in as a parameter.
    return OnReports(condition, params, output_field=BooleanField())


def matching(reports: QuerySet, groups: list[WordGroup], *, where: str | None = None) -> QuerySet:
    """`reports` narrowed to the matches (in `where`)."""
    return reports.filter(match_condition(groups, using=reports.db, where=where))


def _tsquery(groups: list[WordGroup]) -> tuple[str, list[str]]:
    """(w1 | c1) & (w2): one plainto_tsquery per word (it stems and escapes), grouped."""
    parts, params = [], []
    for group in groups:
        parts.append("(" + " || ".join("plainto_tsquery('english', %s)" for _ in group.terms) + ")")
        params.extend(group.terms)
    return " && ".join(parts), params


def fts5_expression(groups: list[WordGroup]) -> str:
    """("w1" OR "c1") AND ("w2"): every term quoted, so no word is read as FTS5 syntax.
    Words are runs of letters and digits (text.WORD): they hold no quotes."""
    return " AND ".join(
        "(" + " OR ".join(f'"{term}"' for term in group.terms) + ")" for group in groups
    )

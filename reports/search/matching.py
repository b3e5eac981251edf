"""Full-text matching and ranking, per database vendor. A query is a list of word groups:
a report matches when it has, for every group, the word or one of its corrections (in its
title, market name, key players or summary, stemmed: "trials" finds "trial").

Ranking: title and market name weigh most, then key players, then the summary —
PostgreSQL's ts_rank over the weighted `search_document` (A, A, B, C), SQLite's FTS5 bm25
with column weights 10, 10, 4, 1."""

from django.db import connections
from django.db.models import BooleanField, FloatField, QuerySet
from django.db.models.expressions import RawSQL

from .schema import FTS_TABLE
from .spelling import WordGroup

SQLITE_WEIGHTS = "10.0, 10.0, 4.0, 1.0"


class OnReports(RawSQL):
    """RawSQL whose `{table}` becomes the reports table as the query names it: "reports_report",
    or an alias like U0 when the query is a subquery (the facets count through those)."""

    def as_sql(self, compiler, connection):
        table = compiler.quote_name(compiler.query.base_table)
        return f"({self.sql.format(table=table)})", self.params


def matching(reports: QuerySet, groups: list[WordGroup]) -> QuerySet:
    """`reports` narrowed to the matches."""
    if connections[reports.db].vendor == "postgresql":
        sql, params = _tsquery(groups)
        condition = f"{{table}}.search_document @@ ({sql})"
    else:
        params = [fts5_expression(groups)]
        condition = f"{{table}}.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)"  # noqa: S608
    # The SQL holds only constants; every word goes in as a parameter.
    return reports.filter(OnReports(condition, params, output_field=BooleanField()))


def ranked(reports: QuerySet, groups: list[WordGroup]) -> QuerySet:
    """`matching(reports)` annotated with `rank` (higher is better)."""
    reports = matching(reports, groups)
    if connections[reports.db].vendor == "postgresql":
        sql, params = _tsquery(groups)
        rank = f"ts_rank({{table}}.search_document, ({sql}))"
    else:
        # bm25 is lower for better matches, and needs its own MATCH.
        params = [fts5_expression(groups)]
        rank = (
            f"-(SELECT bm25({FTS_TABLE}, {SQLITE_WEIGHTS}) FROM {FTS_TABLE} "  # noqa: S608
            f"WHERE {FTS_TABLE} MATCH %s AND rowid = {{table}}.id)"
        )
    return reports.annotate(rank=OnReports(rank, params, output_field=FloatField()))


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

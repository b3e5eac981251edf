"""The order of a search's results, and its pages read without ranking every match.

The ranking is in tiers, then the catalogue's listing order (published before upcoming,
newest first, then title):

1. reports with every word (or a correction of it) in the title or market name;
2. then those with every word among the key players;
3. then every other match (words in the summary, or spread over several parts).

That is what the weights of the full-text document said (title and market name A, key
players B, summary C), without a score computed per match: ts_rank had to read each
match's whole document, 31,000 of them for a common word. Each tier is a condition an index
answers (the stored `search_title` and `search_players` tsvectors on PostgreSQL, FTS5 column
filters on SQLite), and within a tier the order is the listing index's, so the first page
reads the first tier's first rows: PostgreSQL walks the listing index while matches are
dense, or fetches a rare word's few matches from the GIN index and sorts them — its
statistics choose. A later tier is read only when the tiers before it have fewer rows
than the page needs.

`ranked_exactly` is the same order computed over every match in one statement: the
definition the tests hold `page_ids` to."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from .matching import match_condition
from .spelling import WordGroup

LISTING_ORDER = ("status", "-published_at", "title")
TIERS = ("title", "players", None)  # matching.WHERE's parts, best first


def tiers(facetted: QuerySet, groups: list[WordGroup]) -> list[QuerySet]:
    """Each tier's reports among `facetted` (the catalogue narrowed by the facets, not yet
    by the words), best first; no report is in two."""
    using = facetted.db
    title = match_condition(groups, using=using, where="title")
    players = match_condition(groups, using=using, where="players")
    anywhere = match_condition(groups, using=using)
    return [
        facetted.filter(title),
        facetted.filter(players).exclude(title),
        facetted.filter(anywhere).exclude(title).exclude(players),
    ]


def page_ids(facetted: QuerySet, groups: list[WordGroup], start: int, stop: int) -> list[int]:
    """The ids of results `start` to `stop` (a page), tier by tier."""
    ids: list[int] = []
    skip = start  # results before the page still to pass, in this tier and the next
    for reports in tiers(facetted, groups):
        need = stop - start - len(ids)
        if need <= 0:
            break
        ordered = reports.order_by(*LISTING_ORDER, "pk").values_list("pk", flat=True)
        found = list(ordered[skip : skip + need])
        if found:
            ids += found
            skip = 0
        elif skip:
            skip -= ordered[:skip].count()  # the whole tier is before the page
    return ids


def ranked_exactly(facetted: QuerySet, groups: list[WordGroup]) -> QuerySet:
    """Every match annotated with its tier (0 is best) and in result order, in one
    statement: what `page_ids` pages through."""
    using = facetted.db
    tier = Case(
        When(match_condition(groups, using=using, where="title"), then=Value(0)),
        When(match_condition(groups, using=using, where="players"), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    matches = facetted.filter(match_condition(groups, using=using))
    return matches.annotate(tier=tier).order_by("tier", *LISTING_ORDER, "pk")

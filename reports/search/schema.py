"""The database objects search needs beyond Django's models, per database vendor.

PostgreSQL: the pg_trgm extension; `reports_report.search_document`, a stored generated
tsvector (title and market name weighted A, key players and the details — segments,
regions, FAQ — B, summary C) with a GIN index; and a trigram GiST index on the vocabulary
for nearest-word lookups. PostgreSQL refuses to change the type of a column a generated
column reads, or the expression of a generated column: to alter any of SEARCH_COLUMNS or
index another, call `document_replace` in the migration (it drops `search_document` and
adds it again).

Ranking and estimates (migration 0008, reports/search/ranking.py): two more stored
tsvectors, `search_title` (title and market name) and `search_players` (key players), each
with a GIN index, so that "the words are in the title" is an index lookup that never reads
the long `search_document`; and an index on SAMPLE_BUCKET, a fixed hash of the id that
splits the catalogue into SAMPLE_BUCKETS even slices, from which counts beyond
CATALOGUE_SEARCH_EXACT_COUNT are estimated.

SQLite (`make run`): an FTS5 table over the same columns, kept in step by triggers.
Django rebuilds a SQLite table (and so drops its triggers) when a later migration alters
it, so `sqlite_ensure` runs after every `migrate` (reports/apps.py) and restores them."""

from django.db.backends.base.base import BaseDatabaseWrapper

# The report columns search reads, with their weights: as migration 0007 made the index
# (V1), and since migration 0012 (the details: segments, regions, FAQ).
SEARCH_COLUMNS_V1 = ("title", "market_name", "key_player_names", "summary")
SEARCH_COLUMNS = ("title", "market_name", "key_player_names", "search_details", "summary")
WEIGHTS = {
    "title": "A",
    "market_name": "A",
    "key_player_names": "B",
    "search_details": "B",
    "summary": "C",
}
FTS_TABLE = "reports_report_fts"


def document_statements(columns: tuple[str, ...]) -> list[str]:
    """PostgreSQL: the stored tsvector over `columns` and its GIN index."""
    document = " || ".join(
        f"setweight(to_tsvector('english'::regconfig, coalesce({column}, '')), '{WEIGHTS[column]}')"
        for column in columns
    )
    return [
        f"ALTER TABLE reports_report ADD COLUMN search_document tsvector "
        f"GENERATED ALWAYS AS ({document}) STORED",
        "CREATE INDEX report_search_document_idx ON reports_report USING GIN (search_document)",
    ]


DOCUMENT_UNINSTALL = [
    "DROP INDEX IF EXISTS report_search_document_idx",
    "ALTER TABLE reports_report DROP COLUMN IF EXISTS search_document",
]
POSTGRES_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX searchterm_trgm_idx ON reports_searchterm USING GIST (term gist_trgm_ops)",
]
POSTGRES_UNINSTALL = [
    "DROP INDEX IF EXISTS searchterm_trgm_idx",
    *DOCUMENT_UNINSTALL,
]

# A report's sample slice, 0 … SAMPLE_BUCKETS - 1: the top ten bits of a multiplicative hash
# of its id (Knuth's), the same arithmetic on PostgreSQL and SQLite. Queries must spell it
# exactly so for PostgreSQL to use its index.
SAMPLE_BUCKETS = 1024
SAMPLE_BUCKET = "(({table}.id * 2654435761) % 4294967296 / 4194304)"

RANKING_INSTALL = [
    """
    ALTER TABLE reports_report
    ADD COLUMN search_title tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(market_name, ''))
    ) STORED,
    ADD COLUMN search_players tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, coalesce(key_player_names, ''))
    ) STORED
    """,
    "CREATE INDEX report_search_title_idx ON reports_report USING GIN (search_title)",
    "CREATE INDEX report_search_players_idx ON reports_report USING GIN (search_players)",
    "CREATE INDEX report_search_sample_idx ON reports_report "
    f"({SAMPLE_BUCKET.format(table='reports_report')})",
]
RANKING_UNINSTALL = [
    "DROP INDEX IF EXISTS report_search_sample_idx",
    "DROP INDEX IF EXISTS report_search_players_idx",
    "DROP INDEX IF EXISTS report_search_title_idx",
    "ALTER TABLE reports_report DROP COLUMN IF EXISTS search_players, "
    "DROP COLUMN IF EXISTS search_title",
]


def sqlite_statements(columns: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """SQLite: the FTS5 table over `columns` and the triggers that keep it in step."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    table = (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({names}, "
        "content='reports_report', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 0')"
    )
    # Only the constants above are formatted into these statements.
    triggers = {
        f"{FTS_TABLE}_ai": f"""
            CREATE TRIGGER {FTS_TABLE}_ai AFTER INSERT ON reports_report BEGIN
                INSERT INTO {FTS_TABLE}(rowid, {names}) VALUES (new.id, {new});
            END""",  # noqa: S608 - constants only
        f"{FTS_TABLE}_ad": f"""
            CREATE TRIGGER {FTS_TABLE}_ad AFTER DELETE ON reports_report BEGIN
                INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {names})
                VALUES ('delete', old.id, {old});
            END""",  # noqa: S608 - constants only
        f"{FTS_TABLE}_au": f"""
            CREATE TRIGGER {FTS_TABLE}_au AFTER UPDATE OF {names} ON reports_report BEGIN
                INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {names})
                VALUES ('delete', old.id, {old});
                INSERT INTO {FTS_TABLE}(rowid, {names}) VALUES (new.id, {new});
            END""",  # noqa: S608 - constants only
    }
    return table, triggers


def postgres_install(connection: BaseDatabaseWrapper, columns=SEARCH_COLUMNS) -> None:
    with connection.cursor() as cursor:
        for statement in [*POSTGRES_INSTALL, *document_statements(columns)]:
            cursor.execute(statement)


def postgres_uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in POSTGRES_UNINSTALL:
            cursor.execute(statement)


def sqlite_ensure(connection: BaseDatabaseWrapper, columns=SEARCH_COLUMNS) -> bool:
    """Create the FTS table and any missing trigger; rebuild the index when anything was
    missing (rows written meanwhile were not indexed). Returns whether it had to."""
    table, triggers = sqlite_statements(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE %s",
            [f"{FTS_TABLE}%"],
        )
        present = {row[0] for row in cursor.fetchall()}
        missing = [name for name in triggers if name not in present]
        if FTS_TABLE in present and not missing:
            return False
        cursor.execute(table)
        for name in missing:
            cursor.execute(triggers[name])
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")  # noqa: S608
    return True


def sqlite_uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name in sqlite_statements(SEARCH_COLUMNS)[1]:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def ranking_install(connection: BaseDatabaseWrapper) -> None:
    """Migration 0008's objects; SQLite needs none (FTS5 filters by column, and the sample
    bucket is computed on the fly at its scale)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in RANKING_INSTALL:
                cursor.execute(statement)


def ranking_uninstall(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in RANKING_UNINSTALL:
                cursor.execute(statement)


def install(connection: BaseDatabaseWrapper, columns=SEARCH_COLUMNS) -> None:
    if connection.vendor == "postgresql":
        postgres_install(connection, columns)
    elif connection.vendor == "sqlite":
        sqlite_ensure(connection, columns)


def document_replace(connection: BaseDatabaseWrapper, columns: tuple[str, ...]) -> None:
    """Index `columns` instead of what the document read so far (migration 0012 and its
    reverse): PostgreSQL drops the generated column and adds it again (it cannot change a
    generated column's expression), SQLite makes its FTS table again and rebuilds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in [*DOCUMENT_UNINSTALL, *document_statements(columns)]:
                cursor.execute(statement)
    elif connection.vendor == "sqlite":
        sqlite_uninstall(connection)
        sqlite_ensure(connection, columns)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        postgres_uninstall(connection)
    elif connection.vendor == "sqlite":
        sqlite_uninstall(connection)

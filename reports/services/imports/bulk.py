"""The import's bulk writes. On PostgreSQL rows go in with COPY (a report brings some sixty
rows of parts: most of an import's writes), their ids taken from the sequence first where
other rows need them; elsewhere (SQLite) with Django's bulk inserts."""

from django.db import connection

from ...models import (
    FrequentQuestion,
    KeyPlayer,
    Licence,
    MarketDynamic,
    Region,
    RegionCountry,
    Report,
    Segment,
    TocEntry,
)
from .schema import Row

PART_MODELS = {
    "dynamics": MarketDynamic,
    "key_players": KeyPlayer,
    "segments": Segment,
    "regions": Region,
    "toc": TocEntry,
    "faqs": FrequentQuestion,
    "licences": Licence,
}
PART_COLUMNS = {
    "dynamics": ("kind", "title", "description", "position"),
    "key_players": (
        "name",
        "profile",
        "revenue_note",
        "revenue_musd",
        "growth_percent",
        "position",
    ),
    "segments": ("dimension", "name", "description", "share_percent", "position"),
    "toc": ("level", "title", "position"),
    "faqs": ("question", "answer", "position"),
    "licences": (
        *("kind", "description", "max_users", "price", "price_eur", "price_gbp"),
        *("is_active", "position"),
    ),
}
REGION_COLUMNS = ("name", "share_percent", "commentary", "position")


def _insert(model, columns, rows, *, parent: str = "report_id") -> None:
    """Insert (parent, Row) pairs; the parent is a saved Report, or an id."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        names = ", ".join(connection.ops.quote_name(c) for c in (parent, *columns))
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {model._meta.db_table} ({names}) FROM STDIN"  # noqa: S608 - model names only
            ) as copy,
        ):
            for owner, row in rows:
                key = owner.pk if isinstance(owner, Report) else owner
                copy.write_row((key, *(getattr(row, c) for c in columns)))
        return
    model.objects.bulk_create(
        [
            model(**{parent: getattr(owner, "pk", owner)}, **{c: getattr(row, c) for c in columns})
            for owner, row in rows
        ],
        batch_size=1000,
    )


def _next_ids(model, count: int) -> list[int]:
    """`count` ids from the table's sequence (PostgreSQL), to copy rows in with their ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def reports_insert(reports: list[Report], *, now) -> None:
    """New reports, with their ids set. On PostgreSQL: ids from the sequence, then COPY,
    each column prepared as Django prepares it for an insert (pre_save, get_db_prep_save)."""
    if not reports:
        return
    if connection.vendor != "postgresql":
        Report.objects.bulk_create(reports, batch_size=500)
        return
    fields = [f for f in Report._meta.concrete_fields]
    for report, report_id in zip(reports, _next_ids(Report, len(reports)), strict=True):
        report.pk = report_id
        report.created_at = report.updated_at = now
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {Report._meta.db_table} ({names}) FROM STDIN") as copy,  # noqa: S608
    ):
        for report in reports:
            copy.write_row(
                [f.get_db_prep_save(getattr(report, f.attname), connection) for f in fields]
            )
    for report in reports:
        report._state.adding, report._state.db = False, connection.alias


def _region_ids(pairs: list[tuple[Report, Row]]) -> list[int]:
    """Insert the regions and return their ids, in order (their countries need them). On
    PostgreSQL the ids are taken from the sequence first, then the rows copied in."""
    if not pairs:
        return []
    if connection.vendor == "postgresql":
        ids = _next_ids(Region, len(pairs))
        rows = [
            (report, Row(id=region_id, **{c: getattr(region, c) for c in REGION_COLUMNS}))
            for region_id, (report, region) in zip(ids, pairs, strict=True)
        ]
        _insert(Region, ("id", *REGION_COLUMNS), rows)
        return ids
    regions = Region.objects.bulk_create(
        [
            Region(report=report, **{c: getattr(region, c) for c in REGION_COLUMNS})
            for report, region in pairs
        ],
        batch_size=1000,
    )
    return [region.pk for region in regions]


def parts_replace(section: str, owners: list[tuple[Report, bool, list]]) -> None:
    """Replace one kind of part of these reports: (report, is new, the line's rows); for
    regions each row is (region, country codes)."""
    old = [report.pk for report, is_new, _rows in owners if not is_new]
    if old:
        PART_MODELS[section].objects.filter(report_id__in=old).delete()
    if section == "regions":
        pairs = [(report, region, codes) for report, _new, rows in owners for region, codes in rows]
        ids = _region_ids([(report, region) for report, region, _codes in pairs])
        countries = [
            (region_id, Row(country=code, position=i))
            for region_id, (_report, _region, codes) in zip(ids, pairs, strict=True)
            for i, code in enumerate(codes)
        ]
        _insert(RegionCountry, ("country", "position"), countries, parent="region_id")
        return
    rows = [(report, row) for report, _new, section_rows in owners for row in section_rows]
    _insert(PART_MODELS[section], PART_COLUMNS[section], rows)

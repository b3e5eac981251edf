"""Runs in a child process against a SQLite database (the `make run` default): migrates it,
imports the reports given, searches and prints what each search finds, as JSON.

    python -m tests.reports.sqlite_search_probe DB.sqlite3 LINES.json QUERIES.json

The search tests compare this with PostgreSQL's answers for the same reports."""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = ROOT / "var" / "test"


def sqlite_search(tmp_path: Path, lines: list[dict], queries: list[str], **env) -> dict:
    """Runs this probe in a child process on a fresh SQLite database under `tmp_path` (the
    test's PostgreSQL settings left out, `env` added) and returns what each query found."""
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    (tmp_path / "queries.json").write_text(json.dumps(queries))
    child = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    child |= {"SMOSITE_VAR_DIR": str(tmp_path / "var"), "CACHE_URL": "locmemcache://probe", **env}
    shutil.copyfile(migrated_database(child), tmp_path / "db.sqlite3")
    done = _probe(
        child, tmp_path / "db.sqlite3", tmp_path / "lines.json", tmp_path / "queries.json"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe(env: dict, *arguments) -> subprocess.CompletedProcess:
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "tests.reports.sqlite_search_probe", *map(str, arguments)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def migrated_database(env: dict) -> Path:
    """An empty SQLite database migrated once per state of the migrations (their files and
    uv.lock, Django's own) and copied by each test: migrating from nothing took about half of
    each SQLite search test. Shared by the test processes under a lock, as the collected
    static files are (tests/support/procfile_site.py). The probe still runs `migrate` on its
    copy: a no-op when the copy is current."""
    digest = hashlib.sha256()
    for path in [ROOT / "uv.lock", *sorted(ROOT.glob("*/migrations/*.py"))]:
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    migrated = SHARED / f"sqlite-migrated-{digest.hexdigest()[:12]}.sqlite3"
    SHARED.mkdir(parents=True, exist_ok=True)
    with open(SHARED / "sqlite-migrated.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not migrated.exists():
            for older in SHARED.glob("sqlite-migrated-*.sqlite3"):
                older.unlink()
            building = migrated.with_suffix(".building")
            building.unlink(missing_ok=True)
            _probe(env, "--migrate", building)
            building.rename(migrated)  # only a finished migration is ever copied
    return migrated


def main(database: str, lines_path: str | None = None, queries_path: str | None = None) -> None:
    """`--migrate DB.sqlite3`: only migrate it (the database each probe copies)."""
    migrate_only = database == "--migrate"
    if migrate_only:
        database = lines_path
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "smosite.settings.local"
    os.environ.setdefault("SMOSITE_VAR_DIR", str(Path(database).parent / "var"))
    import django

    django.setup()
    from django.core.management import call_command

    from reports.search import SearchParams, catalogue_search
    from reports.services.imports import Record, reports_import

    call_command("migrate", "--noinput", verbosity=0)
    if migrate_only:
        return
    lines = json.loads(Path(lines_path).read_text())
    reports_import(records=[Record(line=i + 1, data=d) for i, d in enumerate(lines)])
    found = {}
    for query in json.loads(Path(queries_path).read_text()):
        result = catalogue_search(SearchParams(q=query))
        found[query] = {
            "numbers": [report.number for report in result.page.object_list],
            "corrected": result.corrected,
            "suggestion": result.suggestion,
            "total": result.page.paginator.count,
            "estimated": result.total_estimated,
            "facets_estimated": [
                value.estimated for facet in result.facets for value in facet.values
            ],
        }
    print(json.dumps(found))


if __name__ == "__main__":
    main(*sys.argv[1:4])

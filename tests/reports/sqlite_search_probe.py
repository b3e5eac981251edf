"""Runs in a child process against a SQLite database (the `make run` default): migrates it,
imports the reports given, searches and prints what each search finds, as JSON.

    python -m tests.reports.sqlite_search_probe DB.sqlite3 LINES.json QUERIES.json

The search tests compare this with PostgreSQL's answers for the same reports."""

import json
import os
import sys
from pathlib import Path


def main(database: str, lines_path: str, queries_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "smosite.settings.local"
    os.environ.setdefault("SMOSITE_VAR_DIR", str(Path(database).parent / "var"))
    import django

    django.setup()
    from django.core.management import call_command

    from reports.search import SearchParams, catalogue_search
    from reports.services.imports import Record, reports_import

    call_command("migrate", "--noinput", verbosity=0)
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

"""manage.py database_backup --dir DIR [--keep-days N]: one pg_dump of the site's database,
run nightly by smosite-backup.timer (deploy/systemd/).

The dump is PostgreSQL's custom format (`pg_restore` restores all of it or one table), written
under a temporary name, read back with `pg_restore --list` and only then given its name, so a
file named `<database>-<UTC time>.dump` is a whole, readable dump. Dumps older than
--keep-days are deleted, except the newest three: a backup that has been failing for weeks
never takes the last good dumps with it. The password goes to pg_dump in its environment,
never on its command line (which every user of the machine can read)."""

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import environ
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

ALWAYS_KEEP = 3
# What libpq reads from the environment, for each of Django's connection settings.
LIBPQ_ENV = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD"}
LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                 "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT"}  # fmt: skip


class Command(BaseCommand):
    help = "Dump the database with pg_dump into --dir, check it, and delete old dumps."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, required=True, help="Where dumps are kept.")
        parser.add_argument(
            "--keep-days", type=int, default=14, help="Delete dumps older than this (14)."
        )
        parser.add_argument(
            "--database-url",
            default="",
            help="Dump this database instead of DATABASE_URL's (e.g. the primary directly when "
            "the site goes through PgBouncer).",
        )

    def handle(self, *args, dir, keep_days, database_url, **options):
        database = (
            environ.Env.db_url_config(database_url)
            if database_url
            else settings.DATABASES["default"]
        )
        if "postgresql" not in database["ENGINE"]:
            raise CommandError("database_backup dumps PostgreSQL databases only.")
        for program in ("pg_dump", "pg_restore"):
            if shutil.which(program) is None:
                raise CommandError(f"{program} is not installed (Debian: postgresql-client).")
        if not dir.is_dir():
            raise CommandError(f"No such folder: {dir}")
        dump = self.dump(database=database, folder=dir)
        deleted = backups_prune(folder=dir, name=database["NAME"], keep_days=keep_days)
        size = dump.stat().st_size / 1024 / 1024
        self.stdout.write(f"Wrote {dump} ({size:.1f} MB); deleted {len(deleted)} older than "
                          f"{keep_days} days.")  # fmt: skip

    def dump(self, *, database: dict, folder: Path) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        final = folder / f"{database['NAME']}-{stamp}.dump"
        partial = folder / f".{final.name}.partial"
        env = libpq_environment(database)
        try:
            self.run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}"], env=env)
            os.chmod(partial, 0o600)  # the whole database: leads, orders, consent
            self.run(["pg_restore", "--list", str(partial)], env=env)
            partial.rename(final)
        finally:
            partial.unlink(missing_ok=True)
        return final

    def run(self, command: list[str], *, env: dict) -> None:
        result = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603
        if result.returncode != 0:
            raise CommandError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")


def libpq_environment(database: dict) -> dict[str, str]:
    env = {**os.environ, "PGDATABASE": str(database["NAME"])}
    for setting, name in LIBPQ_ENV.items():
        if database.get(setting):
            env[name] = str(database[setting])
    for option, name in LIBPQ_OPTIONS.items():
        if database.get("OPTIONS", {}).get(option):
            env[name] = str(database["OPTIONS"][option])
    return env


def backups_prune(*, folder: Path, name: str, keep_days: int) -> list[Path]:
    """Deletes this database's dumps older than keep_days, never the newest ALWAYS_KEEP."""
    dumps = sorted(folder.glob(f"{name}-*.dump"), key=lambda path: path.stat().st_mtime)
    cutoff = time.time() - keep_days * 86400
    old = [path for path in dumps[:-ALWAYS_KEEP] if path.stat().st_mtime < cutoff]
    for path in old:
        path.unlink()
    return old

"""`manage.py database_backup` (smosite-backup.timer, nightly): a pg_dump of the site's
PostgreSQL database that pg_restore can read, readable by its owner only, old dumps deleted
after --keep-days but never the newest three; a failed dump leaves no file that looks like a
backup."""

import io
import os
import stat
import subprocess
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from smosite.management.commands.database_backup import backups_prune

pytestmark = pytest.mark.django_db
DAY = 86400


def dumps(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def aged(folder, name: str, days: float):
    path = folder / name
    path.write_bytes(b"an older dump")
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_a_backup_is_a_whole_readable_dump_and_old_ones_are_deleted(tmp_path, settings):
    name = settings.DATABASES["default"]["NAME"]
    for days in (40, 30, 20, 3):
        aged(tmp_path, f"{name}-old{days}.dump", days)
    aged(tmp_path, "other-database-old.dump", 90)  # not this database's: left alone
    out = io.StringIO()
    call_command("database_backup", dir=tmp_path, keep_days=14, stdout=out)
    (new,) = [path for path in tmp_path.iterdir() if path.stat().st_mtime > time.time() - 600]
    assert new.name.startswith(f"{name}-") and new.suffix == ".dump"
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    listing = subprocess.run(
        ["pg_restore", "--list", str(new)], capture_output=True, text=True, check=True
    )
    assert "TABLE public reports_report" in listing.stdout
    assert "TABLE public enquiries_samplerequest" in listing.stdout
    # Kept: the new dump, the 3-day one, and the newest old one (three at least); deleted:
    # the two older than 14 days beyond those.
    assert dumps(tmp_path) == sorted(
        [new.name, f"{name}-old20.dump", f"{name}-old3.dump", "other-database-old.dump"]
    )
    assert f"Wrote {new}" in out.getvalue() and "deleted 2 older than 14 days" in out.getvalue()


def test_the_newest_three_dumps_stay_however_old(tmp_path):
    paths = [aged(tmp_path, f"smosite-{days}.dump", days) for days in (100, 90, 80, 70)]
    deleted = backups_prune(folder=tmp_path, name="smosite", keep_days=14)
    assert deleted == [paths[0]]
    assert dumps(tmp_path) == ["smosite-70.dump", "smosite-80.dump", "smosite-90.dump"]


def test_a_failed_dump_leaves_no_file_and_deletes_nothing(tmp_path):
    old = aged(tmp_path, "smosite-old.dump", 40)
    with pytest.raises(CommandError, match="pg_dump failed"):
        call_command(
            "database_backup",
            dir=tmp_path,
            keep_days=1,
            database_url="postgres://nobody:secret@127.0.0.1:1/smosite",  # nothing listens on 1
            stdout=io.StringIO(),
        )
    assert dumps(tmp_path) == [old.name]

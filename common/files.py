"""Personalised PDFs deleted from private storage by a job that retries while the storage
fails (an S3 outage), so whoever deletes them (an erasure, the retention purge, a stamp that
finished after its person was erased or its order refunded) never waits for S3 and never
leaves a file behind. The daily purge starts again a deletion whose job gave up
(privacy/retention)."""

from django.core.files.storage import storages

from . import jobs
from .models import Job, PrivateFileDeletion

FILES_JOB = "privacy.files_delete"  # the name stored in job rows


def private_files_delete_later(paths) -> PrivateFileDeletion | None:
    """Record the files and their deletion job in the caller's transaction: a worker deletes
    them after commit, and tries again with backoff while the storage fails."""
    paths = sorted({path for path in paths if path})
    if not paths:
        return None
    row = PrivateFileDeletion.objects.create(paths=paths)
    jobs.enqueue(FILES_JOB, target_id=row.pk, new_target=True)
    return row


def private_files_delete_run(*, work: jobs.JobRun) -> None:
    """The "privacy.files_delete" job. A file already gone is fine. Any storage error
    (botocore's are not OSError) keeps the files not yet deleted on the row and fails the
    attempt, so the job retries them, and only them."""
    row = PrivateFileDeletion.objects.get(pk=work.target_id)
    left, error = private_files_delete(row.paths)
    if left:
        PrivateFileDeletion.objects.filter(pk=row.pk).update(paths=left)
        raise jobs.Failure(f"{len(left)} of {len(row.paths)} file(s) not deleted: {error}")
    with work.completing():
        PrivateFileDeletion.objects.filter(pk=row.pk).delete()


def private_files_delete(paths) -> tuple[list[str], str]:
    """Delete files from private storage; returns the paths that could not be deleted and
    the last error."""
    storage, left, error = storages["private"], [], ""
    for path in paths:
        try:
            storage.delete(path)  # both backends: a missing file is not an error
        except Exception as exc:  # noqa: BLE001 - any storage error: kept and retried
            left.append(path)
            error = f"{type(exc).__name__}: {exc}"
    return left, error


def private_file_deletions_restart() -> int:
    """A file deletion whose job gave up (the storage failed through all its attempts), or
    whose failed job was since deleted (JOB_KEEP_FAILED_DAYS), is tried again from scratch:
    personalised PDFs are deleted in the end, whatever the outage."""
    alive = Job.objects.filter(kind=FILES_JOB).exclude(state=Job.State.FAILED)
    ids = list(
        PrivateFileDeletion.objects.exclude(pk__in=alive.values("target_id")).values_list(
            "pk", flat=True
        )
    )
    for target_id in ids:
        jobs.enqueue(FILES_JOB, target_id=target_id, restart=True)
    return len(ids)


# Retried until the storage deletes the files (an S3 outage); after the last attempt the
# daily purge starts it again (private_file_deletions_restart).
jobs.register(
    FILES_JOB,
    handler=private_files_delete_run,
    model=PrivateFileDeletion,
    queue="default",
    max_attempts="PRIVATE_FILE_DELETE_MAX_ATTEMPTS",
    backoff="PRIVATE_FILE_DELETE_RETRY_SECONDS",
)

"""Private storage (moto's S3 server on loopback) stopping while a person's data is erased:
the erasure commits, staff get a clear page, and the person's PDFs are deleted by the
retried job once S3 answers again."""

import pytest
from django.core.files.storage import storages

from common.files import FILES_JOB
from common.models import Job, PrivateFileDeletion
from contacts.models import Contact
from smosite.storage_url import private_storage_config
from tests.enquiries.test_privacy import action, person  # noqa: F401 - the person's journey
from tests.support.jobs import run_job
from tests.support.s3 import MotoS3Server
from tests.support.staff import superuser

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_s3(settings):
    """An S3 server of this test's own (the session's stays up for everyone else), as the
    private storage. Returns (server, bucket)."""
    server = MotoS3Server().start()
    bucket = server.bucket_create()
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(server.storage_url(bucket), default_location=""),
    }
    yield server, bucket
    server.stop()


def test_erasure_while_s3_is_down_commits_and_a_retried_job_deletes_the_pdfs(
    own_s3,
    person,  # noqa: F811 - the fixture imported above
    client,
    django_capture_on_commit_callbacks,
):
    server, bucket = own_s3
    assert len(server.keys(bucket)) == 2  # the stamped sample and the buyer's copy
    server.stop()

    client.force_login(superuser())
    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, "erase_personal_data", person["contact"], confirm="yes")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Erased the personal data of 1 contact(s)" in page
    assert "retried until the storage has deleted them all" in page
    assert Contact.objects.get(pk=person["contact"].pk).erased_at is not None

    deletion = PrivateFileDeletion.objects.get()
    assert run_job(FILES_JOB, deletion.pk).startswith("retry in")
    job = Job.objects.get(kind=FILES_JOB, target_id=deletion.pk)
    assert job.state == "pending" and "2 of 2 file(s) not deleted" in job.last_error

    server.start_again()
    assert len(server.keys(bucket)) == 2  # still there: the outage kept them
    assert run_job(FILES_JOB, deletion.pk) == "done"
    assert server.keys(bucket) == []
    assert not PrivateFileDeletion.objects.exists()
    assert not any(storages["private"].exists(path) for path in person["files"])

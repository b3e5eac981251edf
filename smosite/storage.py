"""The private storage's backends (chosen by PRIVATE_STORAGE_URL: smosite/storage_url.py)
and its health probe. Nothing in the private storage has a public URL: `url()` refuses, and
files reach buyers only through the site's views (downloads count, links expire, refunds
revoke them)."""

import os

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage


class NoPublicURL(NotImplementedError):
    pass


class PrivateFileSystemStorage(FileSystemStorage):
    def url(self, name):
        raise NoPublicURL("Private files have no URL: stream them through a view.")


class PrivateS3Storage(S3Storage):
    """Objects are written without an ACL (the bucket's own, private, applies); see
    storage_url.py for the options."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        raise NoPublicURL("Private files have no URL: stream them through a view.")


def storage_probe(storage) -> None:
    """Raise unless the storage can be used: the folder is writable, or the bucket answers
    to our credentials (HEAD bucket: a missing bucket or a refused key raises)."""
    if isinstance(storage, S3Storage):
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
        return
    os.makedirs(storage.location, exist_ok=True)
    if not os.access(storage.location, os.W_OK):
        raise PermissionError("private storage folder not writable")

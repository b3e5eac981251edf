"""Where the private storage keeps PDFs (base renders, stamped copies): this machine's
disk, or an S3 bucket that every web server and worker shares. `PRIVATE_STORAGE_URL`:

    (empty)                                   var/private on this machine
    file:///srv/smosite/private               another folder on this machine
    s3://bucket                               an AWS S3 bucket (region and credentials from
                                              the standard AWS variables or instance role)
    s3://bucket/prefix?region=eu-west-1       keys under prefix/, in that region
    s3://KEY_ID:SECRET@bucket?endpoint_url=https://s3.example.net&addressing_style=path
                                              any S3-compatible service, credentials inline

Imported by the settings, so it imports neither boto3 nor the storage classes."""

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

S3_QUERY_OPTIONS = {
    "endpoint_url": "endpoint_url",
    "region": "region_name",
    "addressing_style": "addressing_style",
    "signature_version": "signature_version",
}


def private_storage_config(url: str, *, default_location: str) -> dict:
    """The STORAGES entry for `PRIVATE_STORAGE_URL` (see the module docstring)."""
    if not url:
        return _filesystem(default_location)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ImproperlyConfigured(
                "PRIVATE_STORAGE_URL file:// needs an absolute path: file:///srv/…"
            )
        return _filesystem(unquote(parts.path))
    if parts.scheme == "s3":
        return _s3(parts)
    raise ImproperlyConfigured(
        f"PRIVATE_STORAGE_URL must be empty, file:///path or s3://bucket, not {parts.scheme}://"
    )


def _filesystem(location: str) -> dict:
    return {
        "BACKEND": "smosite.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": location},
    }


def _s3(parts) -> dict:
    if not parts.hostname:
        raise ImproperlyConfigured("PRIVATE_STORAGE_URL s3:// needs a bucket name.")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(query) - set(S3_QUERY_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(f"PRIVATE_STORAGE_URL: unknown option(s) {sorted(unknown)}")
    options = {
        # The netloc's case matters for S3 bucket names only in theory (they are lower
        # case); urlsplit lowers `hostname`, so read it from the netloc as written.
        "bucket_name": parts.netloc.rsplit("@", 1)[-1],
        "location": parts.path.strip("/"),
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        **{S3_QUERY_OPTIONS[name]: value for name, value in query.items()},
    }
    if parts.username:
        options["access_key"] = unquote(parts.username)
        options["secret_key"] = unquote(parts.password or "")
    return {"BACKEND": "smosite.storage.PrivateS3Storage", "OPTIONS": options}

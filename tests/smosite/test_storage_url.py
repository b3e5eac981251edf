"""PRIVATE_STORAGE_URL read into the private storage's settings: disk or S3, and clear
refusals for what it can't mean."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from smosite.storage_url import private_storage_config


def test_empty_is_the_default_folder_on_disk():
    config = private_storage_config("", default_location="/srv/var/private")
    assert config == {
        "BACKEND": "smosite.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": "/srv/var/private"},
    }


def test_file_url_is_another_folder():
    config = private_storage_config("file:///mnt/pdfs%20shared", default_location="x")
    assert config["OPTIONS"] == {"location": "/mnt/pdfs shared"}


def test_s3_url_names_bucket_prefix_endpoint_region_and_inline_credentials():
    url = (
        "s3://AKIAEXAMPLE:se%2Fcret@Smosite-Private/pdfs/prod/"
        "?endpoint_url=https://s3.example.net&region=eu-west-1&addressing_style=path"
    )
    options = private_storage_config(url, default_location="x")["OPTIONS"]
    assert options == {
        "bucket_name": "Smosite-Private",
        "location": "pdfs/prod",
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "endpoint_url": "https://s3.example.net",
        "region_name": "eu-west-1",
        "addressing_style": "path",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "se/cret",
    }


def test_s3_url_without_credentials_leaves_them_to_the_aws_chain():
    options = private_storage_config("s3://bucket", default_location="x")["OPTIONS"]
    assert "access_key" not in options and "secret_key" not in options
    assert options["bucket_name"] == "bucket" and options["location"] == ""


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs://bucket", "must be empty, file:///path or s3://bucket"),
        ("file://relative/path", "absolute path"),
        ("s3:///prefix-only", "needs a bucket name"),
        ("s3://bucket?acl=public-read", "unknown option(s) ['acl']"),
    ],
)
def test_what_it_cannot_mean_is_refused_at_start(url, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        private_storage_config(url, default_location="x")

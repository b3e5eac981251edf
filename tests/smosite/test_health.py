"""/healthz: the database, the broker, the cache and the private storage, each checked for
real with its own time limit; 200, or 503 naming what failed. Faults are real: a closed port,
a server that accepts and never answers, a bucket that does not exist."""

import pytest
from django.db import connections

from tests.support.stalling import StallingServer

pytestmark = pytest.mark.django_db

ALL_OK = {"database": "ok", "broker": "ok", "cache": "ok", "storage": "ok"}
CLOSED_PORT = 1  # nothing listens on port 1


def test_healthz_is_200_when_every_service_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == ALL_OK
    assert "no-cache" in response["Cache-Control"]


def test_healthz_reports_s3_storage_when_the_bucket_answers(client, private_s3):
    assert client.get("/healthz").json()["storage"] == "ok"


def test_healthz_is_503_naming_the_broker_when_it_refuses(client, settings):
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{CLOSED_PORT}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body == {**ALL_OK, "broker": body["broker"]}
    assert body["broker"].startswith("error: ")
    assert "127.0.0.1" not in body["broker"] and "hunter2" not in body["broker"]


def test_healthz_is_503_naming_the_database_when_it_refuses(client, monkeypatch):
    """The probe opens its own connection (in its own thread) from the connection settings,
    so pointing those at a closed port is a real refused database."""
    monkeypatch.setitem(connections.settings["default"], "PORT", CLOSED_PORT)
    monkeypatch.setitem(connections.settings["default"], "HOST", "127.0.0.1")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {**ALL_OK, "database": "error: OperationalError"}


def test_a_cache_that_hangs_is_reported_after_its_time_limit(client, settings):
    settings.HEALTHZ_TIMEOUT_SECONDS = 1
    with StallingServer() as stalled:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{stalled.port}/0",
            }
        }
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {**ALL_OK, "cache": "error: no answer within 1 s"}


def test_a_storage_endpoint_that_hangs_is_reported_after_its_time_limit(
    client, settings, s3_server
):
    from smosite.storage_url import private_storage_config

    settings.HEALTHZ_TIMEOUT_SECONDS = 1
    with StallingServer() as stalled:
        url = s3_server.storage_url("smosite-any").replace(
            s3_server.endpoint, f"http://127.0.0.1:{stalled.port}"
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "private": private_storage_config(url, default_location=""),
        }
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {**ALL_OK, "storage": "error: no answer within 1 s"}


def test_a_missing_bucket_is_a_storage_error(client, settings, s3_server):
    from smosite.storage_url import private_storage_config

    url = s3_server.storage_url("smosite-no-such-bucket")
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(url, default_location=""),
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {**ALL_OK, "storage": "error: ClientError"}


def test_a_storage_folder_that_cannot_be_made_is_a_storage_error(client, settings, tmp_path):
    from smosite.storage_url import private_storage_config

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(f"file://{blocker}/private", default_location=""),
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {**ALL_OK, "storage": "error: NotADirectoryError"}


def test_healthz_checks_the_filesystem_broker_folder(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    assert client.get("/healthz").json()["broker"] == "ok"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error: PermissionError"


def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405

"""/healthz answers liveness and touches no service. /healthz/ready checks the database, the
broker, the cache and the private storage, each for real with its own time limit (200, or 503
naming what failed), for this machine or a token only, at most once per HEALTHZ_CACHE_SECONDS,
and never with more than one thread per hung service. Faults are real: a closed port, a
server that accepts and never answers, a bucket that does not exist."""

import threading

import pytest
from django.core.cache import cache
from django.db import connections

from smosite import health
from tests.support.stalling import StallingServer

pytestmark = pytest.mark.django_db

ALL_OK = {"database": "ok", "broker": "ok", "cache": "ok", "storage": "ok"}
CLOSED_PORT = 1  # nothing listens on port 1
READY = "/healthz/ready"


@pytest.fixture(autouse=True)
def _fresh_readiness(settings):
    """Each poll probes afresh (the answer is otherwise reused for a few seconds)."""
    settings.HEALTHZ_CACHE_SECONDS = 0
    health.readiness.reset()
    yield
    health.readiness.reset()


def hung_cache(settings, stalled) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{stalled.port}/0",
        }
    }


def probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("healthz-")]


def test_healthz_is_200_when_every_service_answers(client):
    response = client.get(READY)
    assert response.status_code == 200
    assert response.json() == ALL_OK
    assert "no-cache" in response["Cache-Control"]


def test_healthz_reports_s3_storage_when_the_bucket_answers(client, private_s3):
    assert client.get(READY).json()["storage"] == "ok"


def test_healthz_is_503_naming_the_broker_when_it_refuses(client, settings):
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{CLOSED_PORT}/0"
    response = client.get(READY)
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
    response = client.get(READY)
    assert response.status_code == 503
    assert response.json() == {**ALL_OK, "database": "error: OperationalError"}


def test_a_cache_that_hangs_is_reported_after_its_time_limit(client, settings):
    settings.HEALTHZ_TIMEOUT_SECONDS = 1
    with StallingServer() as stalled:
        hung_cache(settings, stalled)
        response = client.get(READY)
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
        response = client.get(READY)
        assert response.status_code == 503
        assert response.json() == {**ALL_OK, "storage": "error: no answer within 1 s"}


def test_a_missing_bucket_is_a_storage_error(client, settings, s3_server):
    from smosite.storage_url import private_storage_config

    url = s3_server.storage_url("smosite-no-such-bucket")
    settings.STORAGES = {
        **settings.STORAGES,
        "private": private_storage_config(url, default_location=""),
    }
    response = client.get(READY)
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
    response = client.get(READY)
    assert response.status_code == 503
    assert response.json() == {**ALL_OK, "storage": "error: NotADirectoryError"}


def test_healthz_checks_the_filesystem_broker_folder(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    assert client.get(READY).json()["broker"] == "ok"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "missing")}
    response = client.get(READY)
    assert response.status_code == 503
    assert response.json()["broker"] == "error: PermissionError"


def test_healthz_answers_get_only(client):
    assert client.post(READY).status_code == 405
    assert client.post("/healthz").status_code == 405


# --- Liveness --------------------------------------------------------------------------------


def test_healthz_is_liveness_and_touches_no_service(client, settings, monkeypatch):
    """Every service is unreachable or hung, and /healthz still answers at once: it asks
    none of them (a load balancer polls it on every web server)."""
    monkeypatch.setitem(connections.settings["default"], "PORT", CLOSED_PORT)
    with StallingServer() as stalled:
        hung_cache(settings, stalled)
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{stalled.port}/0"
        for _ in range(20):
            response = client.get("/healthz", REMOTE_ADDR="203.0.113.7")
            assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert stalled.accepted == [] and probe_threads() == []
    assert "no-cache" in response["Cache-Control"]


# --- Readiness: who may ask, how often, how many threads --------------------------------------


def test_readiness_answers_this_machine_or_the_token_only(client, settings):
    settings.HEALTHZ_TOKEN = "s3cret-probe-token"
    elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
    refused = client.get(READY, **elsewhere)
    assert refused.status_code == 403 and "HEALTHZ_TOKEN" in refused.json()["error"]
    assert (
        client.get(READY, headers={"Authorization": "Bearer wrong"}, **elsewhere).status_code == 403
    )
    assert client.get(READY, {"token": "wrong"}, **elsewhere).status_code == 403
    bearer = {"Authorization": "Bearer s3cret-probe-token"}
    assert client.get(READY, headers=bearer, **elsewhere).json() == ALL_OK
    assert client.get(READY, {"token": "s3cret-probe-token"}, **elsewhere).json() == ALL_OK
    # Through nginx on this machine the peer is loopback, but the client is elsewhere.
    proxied = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client.get(READY, **proxied).status_code == 403
    assert client.get(READY, REMOTE_ADDR="::1").json() == ALL_OK
    settings.HEALTHZ_TOKEN = ""
    assert client.get(READY, {"token": ""}, **elsewhere).status_code == 403


def test_the_readiness_answer_is_reused_for_a_few_seconds(client, settings):
    """Polls within HEALTHZ_CACHE_SECONDS probe nothing: the cache probe's key keeps the
    value the first poll wrote."""
    settings.HEALTHZ_CACHE_SECONDS = 60
    assert client.get(READY).json() == ALL_OK
    written = cache.get("healthz:probe")
    for _ in range(10):
        assert client.get(READY).json() == ALL_OK
    assert cache.get("healthz:probe") == written
    settings.HEALTHZ_CACHE_SECONDS = 0
    client.get(READY)
    assert cache.get("healthz:probe") != written


def test_a_hung_service_never_piles_up_probe_threads(client, settings):
    """Every poll probes afresh, the cache hangs: its one probe thread waits, no second one
    starts, and the polls after the first answer at once (it is known to hang)."""
    settings.HEALTHZ_TIMEOUT_SECONDS = 0.5
    with StallingServer() as stalled:
        hung_cache(settings, stalled)
        before = threading.active_count()
        for _ in range(40):
            response = client.get(READY)
            assert response.status_code == 503
            assert response.json() == {**ALL_OK, "cache": "error: no answer within 0.5 s"}
        assert [t.name for t in probe_threads()] == ["healthz-cache"]
        assert len(stalled.accepted) == 1  # one connection to the hung cache in 40 polls
        assert threading.active_count() <= before + 1
    # The hung probe ends with its server; the next poll probes the cache again.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from tests.support.waiting import wait_until

    wait_until(lambda: probe_threads() == [], timeout=10, message="the probe thread hangs on")
    assert client.get(READY).json() == ALL_OK

"""Logs a collector can use: JSON lines, a request id on every line of a request and on the
lines of the Celery tasks that request caused (in a real worker process logging JSON), task
durations and failures."""

import copy
import io
import json
import logging
import logging.config
from decimal import Decimal

import pytest
from django.conf import settings

from common.tasks import jobs_sweep
from contacts.models import OutboundEmail
from smosite import celery_app, observability
from tests.conftest import worker_env
from tests.enquiries.test_enquiry_mail import post_enquiry
from tests.factories import LicenceFactory, ReportFactory
from tests.support.broker import _use_broker
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

REQUEST_ID = "req-7f3c2a91e4b0"


@pytest.fixture
def json_log():
    """The site's own JSON formatter and filter (settings.LOGGING) on a buffer, for the
    records this process writes."""
    config = copy.deepcopy(settings.LOGGING)  # the configurator consumes its "()" keys
    configurator = logging.config.DictConfigurator(config)
    handler = logging.StreamHandler(buffer := io.StringIO())
    handler.setFormatter(configurator.configure_formatter(config["formatters"]["json"]))
    handler.addFilter(observability.RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_the_id_the_proxy_sent(client, json_log):
    response = client.post(
        "/stripe/webhook/", data=b"{}", content_type="application/json",
        headers={"X-Request-ID": REQUEST_ID},
    )  # fmt: skip
    assert response.status_code == 400
    assert response["X-Request-ID"] == REQUEST_ID
    lines = json_log()
    assert {line["logger"] for line in lines} >= {"orders.views", "django.request"}
    assert all(line["request_id"] == REQUEST_ID for line in lines), lines
    assert {"time", "level", "logger", "message", "task_id", "task_name"} <= set(lines[0])


@pytest.mark.django_db
def test_a_request_without_a_usable_id_gets_a_fresh_one(client, json_log):
    first = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith a newline"})
    second = client.get("/healthz")
    ids = {first["X-Request-ID"], second["X-Request-ID"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)
    client.get("/no-such-page", headers={"X-Request-ID": "x" * 129})
    assert json_log()[-1]["request_id"] != "x" * 129


# --- The worker -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_worker(django_db_setup, smtp_server, stripe_server, tmp_path_factory):
    """A worker logging JSON, on a Redis of its own (the session's worker never sees these
    tasks)."""
    broker = RedisServer().start()
    worker = WorkerProcess(
        log_path=tmp_path_factory.mktemp("json-worker") / "worker.log",
        extra_env={
            **worker_env(smtp_server, stripe_server),
            "CELERY_BROKER_URL": broker.url(),
            "LOG_FORMAT": "json",
        },
    ).start()
    _use_broker(broker.url())
    yield worker
    _use_broker(settings.CELERY_BROKER_URL)
    worker.stop()
    broker.cleanup()


def worker_lines(worker) -> list[dict]:
    lines = []
    for raw in worker.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_the_request_into_its_tasks_with_their_durations(
    client, json_worker, mailbox
):
    report = ReportFactory()
    LicenceFactory(report=report, kind="multi", price=Decimal("5900"), max_users=5)
    response = post_enquiry_with_id(client, report)
    assert response.status_code == 302
    mailbox.wait_for(1, to="maria@clinsite.example", timeout=60)
    wait_until(
        lambda: OutboundEmail.objects.filter(status="sent").count() >= 1,
        message=json_worker.tail(),
    )

    def task_lines():
        return [
            line
            for line in worker_lines(json_worker)
            if line.get("task_name") == "common.tasks.job_run"
            and line.get("request_id") == REQUEST_ID
        ]

    finished = wait_until(
        lambda: [line for line in task_lines() if "duration_seconds" in line],
        message=json_worker.tail(),
    )
    assert finished[0]["state"] == "SUCCESS" and finished[0]["duration_seconds"] > 0
    assert finished[0]["logger"] == "smosite.tasks" and finished[0]["task_id"]


def post_enquiry_with_id(client, report):
    original = client.post

    def post(*args, **kwargs):
        return original(*args, headers={"X-Request-ID": REQUEST_ID}, **kwargs)

    client.post = post
    try:
        return post_enquiry(client, report)
    finally:
        client.post = original


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_is_logged_with_its_traceback_and_the_request_id(json_worker):
    token = observability.request_id.set("req-failure-0001")
    try:
        # send_task skips the caller-side signature check: the worker itself fails
        result = celery_app.send_task(jobs_sweep.name, args=["an argument it does not take"])
    finally:
        observability.request_id.reset(token)

    def failure():
        return [
            line
            for line in worker_lines(json_worker)
            if line.get("task_id") == result.id and line.get("level") == "ERROR"
            and line.get("logger") == "smosite.tasks"
        ]  # fmt: skip

    line = wait_until(failure, message=json_worker.tail())[0]
    assert line["request_id"] == "req-failure-0001"
    assert "failed: TypeError" in line["message"]
    assert "Traceback" in line["exc_info"]


@pytest.mark.django_db
def test_a_task_run_eagerly_inside_a_request_logs_the_request_id_and_leaves_it_in_place(
    json_log,
):
    from common.tasks import sessions_clear_expired

    token = observability.request_id.set("req-eager-00001")
    try:
        sessions_clear_expired.apply()
        assert observability.request_id.get() == "req-eager-00001"
        assert observability.current_task.get() == ("", "")
    finally:
        observability.request_id.reset(token)
    (done,) = [line for line in json_log() if line["logger"] == "smosite.tasks"]
    assert done["request_id"] == "req-eager-00001"
    assert done["task_name"] == "common.tasks.sessions_clear_expired" and done["task_id"]
    assert done["state"] == "SUCCESS"

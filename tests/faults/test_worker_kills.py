"""Workers killed for real (SIGKILL) in the middle of a job, at each stage of a sample's
journey, and jobs that fail or kill their worker every time. Each test runs its own worker on
a private Redis, so the session's shared worker can't pick the jobs up instead."""

import os
import signal
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from common import jobs
from common.models import Job
from contacts.models import Contact, OutboundEmail
from contacts.services import outbox as mail
from enquiries.models import SampleRequest
from enquiries.services import samples
from reports.services.seed import report_load_seed
from tests.support import poison
from tests.support.broker import broker_at
from tests.support.forms import form_started_token
from tests.support.renders import install_rendered_bases
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def kill_env(lease: int) -> dict[str, str]:
    """A lease short enough that a claim abandoned by a killed worker is taken over within
    the test; the time limits stay under it (the settings refuse anything else)."""
    return {
        "JOB_LEASE_SECONDS": str(lease),
        "JOB_TIME_LIMIT_SECONDS": str(lease - 2),
        "PDF_RENDER_TIME_LIMIT": str(lease - 2),
        "PDF_RENDER_SOFT_TIME_LIMIT": str(lease - 4),
        "JOB_SWEEP_INTERVAL_SECONDS": "2",
    }


# With the base PDFs installed nothing renders, so a short lease is safe; a render on a busy
# machine needs longer.
QUICK, RENDERING = kill_env(10), kill_env(40)


def post_sample(client, report):
    data = {
        "name": "Kim Killtest",
        "email": "kim@killtest.example",
        "company": "Killtest Labs",
        "job_title": "Analyst",
        "country": "DE",
        "consent": "on",
        "form_started": form_started_token(age_seconds=30),
    }
    response = client.post(reverse("enquiries:request-sample", args=[report.number]), data)
    assert response.status_code == 302
    return SampleRequest.objects.get()


def blocked_pid(fault_dir: Path, stage: str) -> int:
    pid_file = fault_dir / f"{stage}.pid"
    wait_until(pid_file.exists, timeout=120, message=f"no worker process reached the {stage}")
    return int(pid_file.read_text())


def unblock(fault_dir: Path, stage: str) -> None:
    (fault_dir / f"block-{stage}").unlink()


def delivered_once(mailbox, request, worker) -> None:
    wait_until(
        lambda: SampleRequest.objects.filter(pk=request.pk, status="emailed").exists(),
        timeout=120,
        message=f"the sample was never emailed after the kill:\n{worker.tail()}",
    )
    worker.wait_idle()
    assert [m["To"] for m in mailbox.messages] == ["kim@killtest.example"]
    assert OutboundEmail.objects.filter(related_id=str(request.pk)).count() == 1


@pytest.mark.parametrize("stage", ["render", "stamp", "send"])
def test_a_pool_process_killed_mid_job_costs_an_attempt_not_an_email(
    stage, client, private_redis, start_worker, fault_dir, mailbox
):
    broker = private_redis.url(0)
    (fault_dir / f"block-{stage}").touch()
    env = RENDERING if stage == "render" else QUICK
    worker = start_worker(
        "kill-child", beat=True, CELERY_BROKER_URL=broker, FAULT_DIR=str(fault_dir), **env
    )
    with broker_at(broker):
        report = report_load_seed().report  # nothing rendered: the sample asks for it
        if stage != "render":
            install_rendered_bases(report)
        request = post_sample(client, report)

        pid = blocked_pid(fault_dir, stage)
        assert pid in worker.children()
        os.kill(pid, signal.SIGKILL)
        unblock(fault_dir, stage)
        delivered_once(mailbox, request, worker)

    killed = {"render": "pdf.render", "stamp": samples.JOB, "send": mail.JOB}[stage]
    job = Job.objects.get(kind=killed, attempts__gt=1)  # the killed run counted
    assert job.state == "done" and job.attempts == 2


def test_a_whole_worker_killed_mid_send_is_replaced_and_the_email_goes_out_once(
    client, private_redis, start_worker, fault_dir, mailbox
):
    broker = private_redis.url(0)
    (fault_dir / "block-send").touch()
    first = start_worker("doomed", CELERY_BROKER_URL=broker, FAULT_DIR=str(fault_dir), **QUICK)
    with broker_at(broker):
        report = report_load_seed().report
        install_rendered_bases(report)
        request = post_sample(client, report)
        blocked_pid(fault_dir, "send")
        first.kill()  # main process and pool, as the OOM killer would
        unblock(fault_dir, "send")
        second = start_worker("replacement", beat=True, CELERY_BROKER_URL=broker, **QUICK)
        delivered_once(mailbox, request, second)
    email = OutboundEmail.objects.get(related_id=str(request.pk))
    job = Job.objects.get(kind=mail.JOB, target_id=email.pk)
    assert (job.state, job.attempts) == ("done", 2)  # the dead claim was taken over, then sent
    assert job.last_error == "Attempt 1 did not finish: the worker was killed or timed out."


def test_poison_jobs_stop_after_their_attempts_and_staff_can_start_them_again(
    admin_client, private_redis, start_worker
):
    broker = private_redis.url(0)
    worker = start_worker(
        "poison",
        CELERY_BROKER_URL=broker,
        JOB_MAX_ATTEMPTS="3",
        JOB_RETRY_BACKOFF_SECONDS="1",
    )
    owner = Contact.objects.create(email="owner@poison.example", name="Owner")
    with broker_at(broker):
        with transaction.atomic():
            jobs.enqueue(poison.RAISES, target_id=owner.pk)
            jobs.enqueue(poison.KILLS, target_id=owner.pk)
        wait_until(
            lambda: Job.objects.filter(state="failed").count() == 2,
            timeout=120,
            message=f"the poison jobs did not end failed:\n{worker.tail()}",
        )
        worker.wait_idle()  # nothing left to run them again
    raises = Job.objects.get(kind=poison.RAISES)
    kills = Job.objects.get(kind=poison.KILLS)
    assert raises.attempts == 3 and "always fails" in raises.last_error
    assert kills.attempts == 3 and "the worker was killed or timed out" in kills.last_error
    assert "exited with 'signal 9 (SIGKILL)'" in worker.tail(400)

    worker.stop()
    listing = admin_client.get(reverse("admin:common_job_changelist") + "?state__exact=failed")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert poison.RAISES in html and poison.KILLS in html and "always fails" in html
    with broker_at(broker):
        admin_client.post(
            reverse("admin:common_job_changelist"),
            {"action": "try_again", "_selected_action": [raises.pk, kills.pk]},
        )
    assert set(Job.objects.values_list("state", "attempts")) == {("pending", 0)}

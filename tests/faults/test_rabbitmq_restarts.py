"""The restart test of tests/faults/restarts.py with RabbitMQ as the broker: a private
rabbitmq-server (tests/support/rabbitmq_server.py) really stopped and started again five
times, under the site as `make run-prod` starts it. The cache stays on a private Redis that
is not restarted. RabbitMQ keeps messages and hands out again those a broken connection
left unacknowledged: at the last restart a job is still sending its email when the broker is
back, and the second delivery of its message must not send it again. docs/deploy.md
recommends the broker by what this test and its Redis twin (test_broker_restarts.py) show."""

import signal

import pytest

from reports.services.seed import report_load_seed
from tests.faults.restarts import SITE_ENV, broker_restarts
from tests.support.ports import free_port
from tests.support.procfile_site import ProcfileSite, collectstatic, site_env
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.renders import install_rendered_bases

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_rabbitmq(tmp_path):
    server = RabbitMQServer(tmp_path / "rabbitmq").start()
    yield server
    server.cleanup()


def test_five_rabbitmq_restarts_with_jobs_in_flight_leave_every_process_up_and_every_email_once(
    private_rabbitmq, private_redis, smtp_server, mailbox, site_var_dir, tmp_path
):
    report = report_load_seed().report
    install_rendered_bases(report)
    env = site_env(
        "prod",
        port=free_port(),
        var_dir=site_var_dir,
        CELERY_BROKER_URL=private_rabbitmq.url(),
        CACHE_URL=private_redis.url(1),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        **SITE_ENV,
    )
    collectstatic(env)
    site = ProcfileSite("prod", env=env, log_path=tmp_path / "site.log").start()
    try:
        site.wait_ready()
        figures = broker_restarts(
            site=site,
            broker=private_rabbitmq,
            broker_name="RabbitMQ",
            report=report,
            mailbox=mailbox,
            redelivers=True,
        )
    finally:
        site.stop_with(signal.SIGTERM)
    print(f"\n{figures.line()}")

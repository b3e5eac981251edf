"""Redis, broker and cache of the whole site, restarted five times while jobs are in flight
(tests/faults/restarts.py says how), with the processes started as `make run` (Procfile.dev)
and `make run-prod` (Procfile) start them. Before the fix in smosite/broker.py the worker
exited at the first stop that found it holding unacknowledged messages."""

import signal

import pytest

from reports.services.seed import report_load_seed
from tests.faults.restarts import SITE_ENV, broker_restarts
from tests.support.ports import free_port
from tests.support.procfile_site import ProcfileSite, collectstatic, site_env
from tests.support.renders import install_rendered_bases

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("kind", ["dev", "prod"], ids=["make-run", "make-run-prod"])
def test_five_redis_restarts_with_jobs_in_flight_leave_every_process_up_and_every_email_once(
    kind, private_redis, smtp_server, mailbox, site_var_dir, tmp_path
):
    report = report_load_seed().report
    install_rendered_bases(report)
    env = site_env(
        kind,
        port=free_port(),
        var_dir=site_var_dir,
        CELERY_BROKER_URL=private_redis.url(0),
        CACHE_URL=private_redis.url(1),
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        **SITE_ENV,
    )
    if kind == "prod":
        collectstatic(env)
    site = ProcfileSite(kind, env=env, log_path=tmp_path / "site.log").start()
    try:
        site.wait_ready()
        figures = broker_restarts(
            site=site,
            broker=private_redis,
            broker_name="Redis",
            report=report,
            mailbox=mailbox,
        )
    finally:
        site.stop_with(signal.SIGTERM)
    print(f"\n{figures.line()}")

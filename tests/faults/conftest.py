"""Fault injection for real: private Redis servers that tests stop and start, workers that
tests SIGKILL, an SMTP server that refuses, fails or hangs. Every process a test starts is
stopped when it ends; the machine's shared PostgreSQL and Redis are never touched."""

import pytest
from django.conf import settings

from tests.conftest import worker_env
from tests.reports.conftest import report_on_sale, stripe  # noqa: F401 - shared fixtures
from tests.support import poison
from tests.support.redis_server import RedisServer
from tests.support.worker import WorkerProcess

poison.register()  # the poison kinds exist in this process too


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(tmp_path, smtp_server, stripe_server, django_db_setup):
    """start_worker(name, **env): a worker of its own with the test worker's environment plus
    `env` (e.g. another broker, a fault folder, beat with a short sweep interval)."""
    started = []

    def start(name: str = "fault", *, beat: bool = False, concurrency: int = 2, **env):
        worker = WorkerProcess(
            log_path=tmp_path / f"{name}-{len(started)}.log",
            extra_env=worker_env(smtp_server, stripe_server, **env),
            concurrency=concurrency,
            beat=beat,
            name=name,
        )
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def site_var_dir(tmp_path_factory):
    """SMOSITE_VAR_DIR of the whole site a restart test starts (static files collected once,
    beat's schedule); its PDFs stay in this test process's private storage."""
    return tmp_path_factory.mktemp("site-var")


@pytest.fixture
def fault_dir(tmp_path):
    folder = tmp_path / "faults"
    folder.mkdir()
    return folder


def redis_cache(url: str) -> dict:
    """The cache setting for a Redis at `url`, with the site's timeouts."""
    from smosite.settings.base import cache_with_timeouts

    return {
        "default": cache_with_timeouts(
            {"BACKEND": settings.CACHES["default"]["BACKEND"], "LOCATION": url}
        )
    }

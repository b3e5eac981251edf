"""Make the Celery broker unreachable for this process only (the worker keeps its own
connection): the web side of a Redis outage, with a real refused connection."""

import os
from contextlib import contextmanager

import kombu.pools

from common import jobs
from smosite.broker import transport_for
from smosite.celery import app

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _use_broker(url: str) -> None:
    # Celery prefers the CELERY_BROKER_URL environment variable over its configuration.
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    app.conf.broker_transport = transport_for(url)  # as settings choose it for the URL
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()
    jobs.publisher_reset()


@contextmanager
def broker_at(url: str):
    """This process publishes to `url` (e.g. a port that never answers) until the block ends."""
    previous = app.conf.broker_url
    _use_broker(url)
    try:
        yield
    finally:
        _use_broker(previous)


def broker_unreachable():
    """Nothing listens on the broker's port: every connection is refused at once."""
    return broker_at(CLOSED_PORT_URL)

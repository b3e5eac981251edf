"""smosite/broker.py: the Redis transport that keeps a worker alive when Redis restarts while
it holds unacknowledged messages. The sequence is what Celery 5.7.0's consumer does on a lost
connection (`collect()`, then `close()`), on a real kombu connection to a private
redis-server that is really stopped: a task channel holding unacknowledged messages with a
BRPOP outstanding, and a second channel consuming an auto-delete fanout queue (the worker's
remote-control channel)."""

import ssl

import pytest
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

from smosite.broker import transport_for
from smosite.celery import app
from tests.support.redis_server import RedisServer


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def connection_losing_redis(server: RedisServer, transport: str | None):
    """A connection whose task channel holds 2 unacknowledged messages and waits on BRPOP,
    with a remote-control-like channel beside it, and then its Redis stopped."""
    conn = Connection(server.url(0), transport=transport)
    tasks = Queue("tasks", Exchange("tasks"), "tasks")
    producer = conn.Producer()
    for n in range(3):
        producer.publish({"n": n}, exchange=tasks.exchange, routing_key="tasks", declare=[tasks])
    consumer = conn.Consumer([tasks], callbacks=[lambda body, message: None])
    consumer.qos(prefetch_count=2)
    consumer.consume()
    control = Queue("box", Exchange("box", type="fanout"), auto_delete=True)
    conn.Consumer([control], channel=conn.channel(), no_ack=True).consume()
    channel = conn.default_channel
    while len(channel.qos._delivered) < 2:  # up to the prefetch limit; socket.timeout after 5 s
        conn.drain_events(timeout=5)
    channel._brpop_start()  # what the worker's event loop has outstanding between messages
    assert len(channel.qos._delivered) == 2 and channel._in_poll
    server.stop()
    return conn


def test_kombus_own_transport_still_raises_attribute_error_when_celery_closes_after_collect(
    redis_server,
):
    """The upstream defect the workaround exists for. When this fails, kombu or Celery fixed
    it: delete smosite/broker.py and CELERY_BROKER_TRANSPORT."""
    conn = connection_losing_redis(redis_server, transport=None)
    conn.collect(socket_timeout=5)
    with pytest.raises(AttributeError, match="hostname"):
        ignore_errors(conn, conn.close)


def test_with_our_transport_a_close_after_collect_is_a_connection_error_the_worker_survives(
    redis_server,
):
    conn = connection_losing_redis(redis_server, transport=transport_for(redis_server.url()))
    conn.collect(socket_timeout=5)
    half_closed = conn._default_channel  # the trap: still open, its transport collected
    assert not half_closed.closed and half_closed.connection.client is None
    ignore_errors(conn, conn.close)  # what Celery calls next: it ignores connection errors
    with pytest.raises(RedisConnectionError):
        half_closed.basic_ack(next(iter(half_closed.qos._delivered)))  # a late ack, too


def test_the_transport_follows_the_broker_url():
    assert transport_for("redis://127.0.0.1:6379/0") == "smosite.broker:RedisTransport"
    assert transport_for("rediss://cache.example:6380/0") == "smosite.broker:SecureRedisTransport"
    assert transport_for("amqp://guest:guest@127.0.0.1:5672//") is None
    assert transport_for("filesystem://") is None
    assert app.conf.broker_transport == transport_for(app.conf.broker_url)


def test_rediss_without_ssl_options_still_speaks_tls_as_with_kombus_own_transport():
    url = "rediss://cache.example:6380/0"
    ours = Connection(url, transport=transport_for(url))
    kombus = Connection(url)
    assert ours.transport.client.ssl == kombus.ssl == {"ssl_cert_reqs": ssl.CERT_NONE}
    verified = f"{url}?ssl_cert_reqs=required"
    assert Connection(verified, transport=transport_for(verified)).transport.client.ssl == {
        "ssl_cert_reqs": ssl.CERT_REQUIRED
    }

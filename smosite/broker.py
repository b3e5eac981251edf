"""The Redis broker transport: kombu's own, with one fix, so that a Celery worker survives a
Redis restart while it holds unacknowledged messages (issue 20).

What happened (celery 5.7.0, kombu 5.7.0, redis-py 8.1.0; reproduced with a private
redis-server, tests/faults/test_broker_restarts.py and tests/smosite/test_broker.py): the
consumer's connection breaks and Celery's `Consumer.on_connection_error_after_connected`

1. calls `connection.collect()`. kombu closes the task channel first; with a BRPOP
   outstanding (the worker has room for more messages), `redis.Channel.close()` reads its
   reply before anything else (celery/kombu
   #1733, so that a popped message is not lost), the dead socket raises ConnectionError and
   the channel stays open (the error is swallowed). Closing the remaining channels stops at
   the next one that needs Redis, then `_do_close_transport()` sets `transport.client =
   None`, while `connection._default_channel` still names the half-closed task channel;
2. then calls `connection.close()`, new in Celery 5.7.0 (5.6.3 does not: it came with the
   reconnect fixes for celery/celery#9705). That closes the same channel again; this time it
   gets as far as restoring its unacknowledged messages (prefetched jobs, retries held until
   their time), which builds a Redis client from `transport.client`: `_connparams` reads
   `None.hostname`. An AttributeError is not a connection error, so nothing catches it:
   "Unrecoverable error", the worker exits. Without unacknowledged messages the restore
   touches nothing, and without a BRPOP outstanding the first close completes: the fault
   tests that stopped Redis while the worker held none, or had no room, passed.

The same AttributeError from a channel used after its transport was closed is
celery/kombu#582. No upstream report of this combination was found (celery 5.7.0 and kombu
5.7.0 are the newest releases); pinning Celery 5.6.3 would give up 5.7.0's fixes for the
reconnect hang of #9705.

The fix: a channel whose transport is gone raises ConnectionError, the error every caller
on these paths already handles (`ignore_errors`, `ack_log_error`, the consumer's restart),
instead of AttributeError. Nothing is lost by not restoring there: Redis is unreachable at
that moment anyway; messages it kept come back after `visibility_timeout`, and every job's
row is published again by the sweeper (common/jobs.py). Remove this module (and
CELERY_BROKER_TRANSPORT in settings) once kombu or Celery no longer closes a channel after
`collect()`: the first test in tests/smosite/test_broker.py fails then, and says so.
"""

import logging
import ssl
from urllib.parse import urlsplit

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)


class RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("the broker connection was closed (kombu collected it)")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


class SecureRedisTransport(RedisTransport):
    """rediss://: TLS even without SSL options, as kombu does for that scheme (it decides by
    the transport's name, which is this class's path once the transport is named)."""

    def __init__(self, client, **kwargs):
        if not client.ssl:
            logger.warning(
                "Secure redis scheme specified (rediss) with no ssl options, "
                "defaulting to insecure SSL behaviour."
            )
            client.ssl = {"ssl_cert_reqs": ssl.CERT_NONE}
        super().__init__(client, **kwargs)


TRANSPORTS = {
    "redis": f"{__name__}:RedisTransport",
    "rediss": f"{__name__}:SecureRedisTransport",
}


def transport_for(broker_url: str) -> str | None:
    """Celery's `broker_transport` for `broker_url`: ours for Redis, None (the URL's scheme
    decides) for anything else."""
    return TRANSPORTS.get(urlsplit(broker_url).scheme)

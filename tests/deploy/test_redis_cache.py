"""The cache's own Redis on a single VM (deploy/redis/redis-cache.conf, run by Debian's
redis-server@cache): redis-server accepts the file as shipped, and it makes a cache that
evicts when full instead of refusing writes, keeps nothing on disk and listens on loopback.
The broker keeps Debian's default instance (noeviction)."""

import subprocess

import redis

from tests.support.deploy import ROOT
from tests.support.ports import free_port
from tests.support.waiting import wait_until


def test_redis_server_runs_the_cache_config_as_an_evicting_memory_only_cache(tmp_path):
    port = free_port()
    # The file as shipped; only what is the machine's (port, pid file, folder, systemd's
    # supervision) is moved for a run beside the tests.
    process = subprocess.Popen(
        ["redis-server", str(ROOT / "deploy" / "redis" / "redis-cache.conf"), "--port", str(port),
         "--pidfile", str(tmp_path / "redis.pid"), "--dir", str(tmp_path), "--supervised", "no"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_connect_timeout=0.5)

        def answers():
            if process.poll() is not None:
                raise AssertionError(process.stdout.read())
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=20)
        config = client.config_get("*")
        assert config["maxmemory-policy"] == "allkeys-lru"
        assert int(config["maxmemory"]) == 256 * 1024 * 1024
        assert config["save"] == "" and config["appendonly"] == "no"
        assert config["bind"].split()[0] == "127.0.0.1"
        # Full, it evicts and keeps taking writes (a cache must never refuse one).
        client.config_set("maxmemory", str(2 * 1024 * 1024))
        for index in range(300):
            client.set(f"page:{index}", b"x" * 20_000)
        assert client.dbsize() < 300 and client.get("page:299") is not None
        assert not list(tmp_path.glob("*.rdb"))
    finally:
        process.terminate()
        process.wait(timeout=20)

"""A RabbitMQ of our own: Debian's rabbitmq-server started as a node of its own on free
loopback ports, with its own node name, Erlang port mapper (epmd), cookie, data (Mnesia),
logs and configuration, so a test can stop and start it again. The machine's shared
RabbitMQ (5672) and its epmd (4369) are never touched. Its data survives a restart, as a
real broker's does: durable queues and persistent messages are on disk."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .ports import free_port

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # not the su-wrapper in /usr/sbin


class RabbitMQServer:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"smotest{self.port}@localhost"
        self.process = None
        self.epmd = None

    def url(self, vhost: str = "/") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost.lstrip('/')}"

    @property
    def env(self) -> dict[str, str]:
        base = self.directory
        return {
            **os.environ,
            "HOME": str(base),  # the Erlang cookie lives here
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_LOGS": str(base / "log" / "rabbit.log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        }

    def _configure(self) -> None:
        for folder in ("mnesia", "log"):
            (self.directory / folder).mkdir(parents=True, exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 20MB\n"
            "log.console = false\n"
        )
        (self.directory / "advanced.config").write_text("[].\n")
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")

    def start(self, timeout: float = 90.0) -> "RabbitMQServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.directory / "rabbitmq.conf").exists():
            self._configure()
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = subprocess.Popen(  # noqa: S603 - fixed arguments
                [shutil.which("epmd") or "epmd", "-port", str(self.epmd_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        log = open(self.directory / "log" / "server.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [RABBITMQ_SERVER],
            env=self.env,
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        """Until an AMQP handshake succeeds (the port opens before the broker is ready)."""
        from kombu import Connection

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited:\n{self.log_tail()}")
            try:
                with Connection(self.url(), connect_timeout=1) as conn:
                    conn.connect()
                    return
            except Exception:  # noqa: BLE001 - not up yet (refused, reset, handshake)
                time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server not accepting after {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: RabbitMQ shuts down cleanly (what a restart by a supervisor does)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        if self.epmd and self.epmd.poll() is None:
            os.killpg(self.epmd.pid, signal.SIGKILL)
            self.epmd.wait()

    def log_tail(self) -> str:
        texts = [p.read_text(errors="replace")[-2000:] for p in (self.directory / "log").glob("*")]
        return "\n".join(texts)

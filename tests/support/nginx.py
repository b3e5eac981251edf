"""nginx in front of a test server, configured as the shipped site (deploy/nginx/
smosite-https.conf) sets it: the proxy directives of its HTTPS server block are read from the
file and used as written (only the upstream is the test server), with the TRUSTED_PROXY_COUNT
the env template (deploy/env.template) gives, so the headers the site relies on behind nginx
are the ones a server gets. Debian's nginx (the Makefile's APT_BENCH)."""

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
from pathlib import Path

from .ports import Reserved
from .waiting import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SITE_CONF = DEPLOY / "nginx" / "smosite-https.conf"
ENV_TEMPLATE = DEPLOY / "env.template"
CONF = """
daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
{directives}
        }}
    }}
}}
"""


def deploy_location_directives() -> list[str]:
    """The proxy directives of the shipped HTTPS site (headers and timeouts every proxied
    request gets), without its proxy_pass."""
    lines = [line.split("#", 1)[0].strip() for line in SITE_CONF.read_text().splitlines()]
    found = [line for line in lines if line.startswith(("proxy_set_header ", "proxy_read_"))]
    assert found, f"{SITE_CONF} sets no proxy headers"
    return found


def deploy_trusted_proxy_count() -> int:
    """The TRUSTED_PROXY_COUNT a server's environment file starts with."""
    counts = re.findall(r"^TRUSTED_PROXY_COUNT=(\d+)$", ENV_TEMPLATE.read_text(), re.MULTILINE)
    assert len(counts) == 1, f"{ENV_TEMPLATE} sets TRUSTED_PROXY_COUNT {counts}"
    return int(counts[0])


class Nginx:
    """`with Nginx(upstream_port, tmp_path) as nginx:` nginx on `nginx.port`."""

    def __init__(self, upstream_port: int, folder: Path):
        self.upstream_port = upstream_port
        self.prefix = folder / "nginx"
        self.reserved = Reserved()
        self.port = self.reserved.port
        self.process = None

    def __enter__(self) -> "Nginx":
        self.prefix.mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        directives = "\n".join(f"            {line}" for line in deploy_location_directives())
        # As root, nginx's workers would run as nobody, who can't enter pytest's folders.
        user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.getuid() == 0 else ""
        conf.write_text(
            CONF.format(
                prefix=self.prefix,
                port=self.port,
                upstream_port=self.upstream_port,
                directives=directives,
                user=user,
            )
        )
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        command = [binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log")]
        self.reserved.release()  # nginx binds it right away
        self.process = subprocess.Popen(
            [*command, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=20, message=self._error_log())
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"nginx exited:\n{self._error_log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def _error_log(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text() if log.exists() else "nginx wrote no error log"

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

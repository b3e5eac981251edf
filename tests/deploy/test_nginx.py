"""The nginx site install.sh installs (deploy/nginx/), checked by nginx itself and then run:
`nginx -t` accepts it before the certificate exists (port 80 only, so certbot can get one) and
after (with a self-signed certificate made here); running, it answers Let's Encrypt's
challenge over plain HTTP, redirects the rest to HTTPS, passes a private address's /healthz,
refuses other names, routes downloads to their own pool and lets an admin import through.
Everything runs in a private prefix and config: nothing system-wide changes."""

import contextlib
import datetime
import http.client
import http.server
import re
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings

from tests.support.deploy import DOMAIN, installation, nginx_binary
from tests.support.ports import free_port
from tests.support.waiting import wait_until

MAIN_CONF = """
daemon off;
user root;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {sites}/*.conf;
}}
"""


def certificate_make(folder) -> None:
    """A self-signed certificate for the site's name where certbot would put Let's Encrypt's."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (folder / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class PrivateNginx:
    """nginx with a main config of its own (temporary files, pid and error log in `run`)
    that includes the installed site as it is, or with its ports moved to free loopback
    ones for a run."""

    def __init__(self, installed, run):
        self.installed = installed
        self.run = run
        self.sites = run / "sites"
        self.sites.mkdir(parents=True)
        self.conf = run / "nginx.conf"
        self.conf.write_text(MAIN_CONF.format(run=run, sites=self.sites))

    def enabled(self) -> list:
        return sorted((self.installed.prefix / "etc" / "nginx" / "sites-enabled").iterdir())

    def include(self, ports: dict[str, int] | None = None) -> None:
        for old in self.sites.iterdir():
            old.unlink()
        for site in self.enabled():
            text = site.read_text()
            if ports:
                text = re.sub(r"^\s*listen \[::\].*\n", "", text, flags=re.MULTILINE)
                text = re.sub(r"listen 80\b", f"listen 127.0.0.1:{ports['http']}", text)
                text = re.sub(r"listen 443\b", f"listen 127.0.0.1:{ports['https']}", text)
                text = text.replace("127.0.0.1:8000;", f"127.0.0.1:{ports['web']};")
                text = text.replace("127.0.0.1:8001;", f"127.0.0.1:{ports['downloads']};")
            (self.sites / site.name).write_text(text)

    def test(self) -> subprocess.CompletedProcess:
        self.include()
        return subprocess.run(
            [nginx_binary(), "-t", "-p", str(self.run), "-e", str(self.run / "error.log"),
             "-c", str(self.conf)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip


def test_nginx_accepts_the_site_before_and_after_its_certificate(tmp_path):
    installed = installation(tmp_path / "root")
    nginx = PrivateNginx(installed, tmp_path / "nginx")
    # First install: only port 80 is enabled, so nginx starts and certbot can get a
    # certificate through it.
    assert [site.name for site in nginx.enabled()] == ["smosite-http.conf"]
    before = nginx.test()
    assert before.returncode == 0, before.stderr
    live = installed.prefix / "etc" / "letsencrypt" / "live" / DOMAIN
    certificate_make(live)
    installation(tmp_path / "root")  # run again once the certificate exists
    assert [site.name for site in nginx.enabled()] == ["smosite-http.conf", "smosite-https.conf"]
    after = nginx.test()
    assert after.returncode == 0, after.stderr
    assert "test is successful" in after.stderr
    # The same check fails when the certificate is not there.
    (live / "fullchain.pem").unlink()
    missing = nginx.test()
    assert missing.returncode != 0 and "fullchain.pem" in missing.stderr


class Upstream:
    """A stand-in for one gunicorn pool: records what nginx passes and answers 200 (a
    download answers with X-Accel-Redirect, as the site does)."""

    def __init__(self):
        self.requests: list[dict] = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "size": len(body)}
                )
                self.send_response(200)
                if self.path.startswith("/download/"):
                    self.send_header("X-Accel-Redirect", "/_private/orders/report.pdf")
                self.send_header("Content-Length", "8")
                self.end_headers()
                self.wfile.write(b"upstream")

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def plain(port: int, path: str, host: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def tls(port: int, method: str, path: str, *, cafile, server_name=DOMAIN, body=b""):
    """A request over TLS naming `server_name` (SNI), as a browser would."""
    context = ssl.create_default_context(cafile=str(cafile))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection = http.client.HTTPConnection(server_name, port, timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=server_name)
    try:
        connection.request(
            method, path, body=body, headers={"Content-Type": "application/octet-stream"}
        )
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


@pytest.fixture
def running(tmp_path):
    installed = installation(tmp_path / "root")
    certificate_make(installed.prefix / "etc" / "letsencrypt" / "live" / DOMAIN)
    installation(tmp_path / "root")
    web, downloads = Upstream(), Upstream()
    ports = {
        "http": free_port(),
        "https": free_port(),
        "web": web.port,
        "downloads": downloads.port,
    }
    nginx = PrivateNginx(installed, tmp_path / "nginx")
    nginx.include(ports)
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(nginx.run), "-e", str(nginx.run / "error.log"), "-c", str(nginx.conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def listening():
        if process.poll() is not None:
            raise AssertionError((nginx.run / "error.log").read_text())
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", ports["https"]), timeout=1),
        ):
            return True
        return False

    try:
        wait_until(listening, timeout=20)
        yield installed, ports, web, downloads
    finally:
        process.terminate()
        process.wait(timeout=20)
        web.stop()
        downloads.stop()


def test_nginx_serves_the_challenge_redirects_checks_health_and_routes_the_site(running):
    installed, ports, web, downloads = running
    token = (
        installed.prefix
        / "var"
        / "www"
        / "letsencrypt"
        / ".well-known"
        / "acme-challenge"
        / "tok3n"
    )
    token.parent.mkdir(parents=True)
    token.write_text("tok3n.thumbprint")
    cafile = installed.prefix / "etc" / "letsencrypt" / "live" / DOMAIN / "fullchain.pem"

    # Port 80: Let's Encrypt's challenge over plain HTTP, everything else to HTTPS.
    assert plain(ports["http"], "/.well-known/acme-challenge/tok3n", DOMAIN)[::2] == (
        200,
        b"tok3n.thumbprint",
    )
    status, headers, _ = plain(ports["http"], "/report?utm_source=x", DOMAIN)
    assert (status, headers["Location"]) == (301, f"https://{DOMAIN}/report?utm_source=x")
    # A load balancer's check by address, from a private network: passed to the site as is.
    assert plain(ports["http"], "/healthz", "10.0.3.7")[::2] == (200, b"upstream")
    check = web.requests[-1]
    assert check["path"] == "/healthz" and check["headers"]["X-Forwarded-Proto"] == "http"
    assert re.fullmatch(r"[0-9a-f]{32}", check["headers"]["X-Request-ID"])
    # Anything else by address: the connection is closed without an answer.
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        plain(ports["http"], "/admin/", "10.0.3.7")

    # HTTPS for the site's name: pages to the web pool, with the scheme and client address.
    assert tls(ports["https"], "GET", "/", cafile=cafile)[::2] == (200, b"upstream")
    page = web.requests[-1]["headers"]
    assert (page["X-Forwarded-Proto"], page["X-Forwarded-For"], page["Host"]) == (
        "https",
        "127.0.0.1",
        DOMAIN,
    )
    # Downloads to their own pool; the file comes from private storage (X-Accel-Redirect).
    private = installed.var_dir / "private" / "orders"
    private.mkdir(parents=True)
    (private / "report.pdf").write_bytes(b"%PDF-1.7 the licensed copy")
    status, _, body = tls(ports["https"], "GET", "/download/SMO-2026-000001/token", cafile=cafile)
    assert (status, body) == (200, b"%PDF-1.7 the licensed copy")
    assert downloads.requests[-1]["path"] == "/download/SMO-2026-000001/token"
    # An admin import up to CATALOGUE_IMPORT_ADMIN_MAX_MB (and its form) gets through; a
    # public form that size does not.
    limit = settings.CATALOGUE_IMPORT_ADMIN_MAX_MB * 1024 * 1024
    upload = b"x" * (limit + 64 * 1024)
    assert (
        tls(ports["https"], "POST", "/admin/reports/report/import/", cafile=cafile, body=upload)[0]
        == 200
    )
    assert web.requests[-1]["size"] == len(upload)
    assert (
        tls(ports["https"], "POST", "/enquiry/pre-order-enquiry/1", cafile=cafile, body=upload)[0]
        == 413
    )
    # Another name over TLS (the address): the handshake is refused.
    with pytest.raises(ssl.SSLError):
        tls(ports["https"], "GET", "/", cafile=cafile, server_name="10.0.3.7")

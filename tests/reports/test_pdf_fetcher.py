"""WeasyPrint may load the project's static files and nothing else, and says what it was
asked for. A real HTTP server on loopback proves that refused URLs were never requested."""

import http.server
import logging
import threading
from pathlib import Path

import pytest
from django.conf import settings
from weasyprint import HTML

from reports.pdf.fetcher import FetchRefused, StaticOnlyURLFetcher, static_base_url


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        self.requests.append(self.path)
        # Every answer is a redirect to a static file: following it would be a leak too.
        self.send_response(302)
        self.send_header("Location", (Path(settings.BASE_DIR) / "static/pdf/report.css").as_uri())
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Recorder.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.requests
    server.shutdown()
    server.server_close()


def test_fetcher_serves_a_static_file_and_logs_it(caplog):
    fetcher = StaticOnlyURLFetcher()
    url = static_base_url() + "pdf/report.css"
    with caplog.at_level(logging.INFO, logger="reports.pdf.fetcher"):
        response = fetcher.fetch(url)
    assert b"@page" in response.read()
    assert fetcher.served == [url]
    assert f"PDF fetch served: {url}" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "STATIC/../../../etc/passwd",
        "STATIC/pdf/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "STATIC/pdf/missing.css",
        "file://evil.example/etc/passwd",
        "data:text/css,body{}",
        "ftp://127.0.0.1/x",
    ],
)
def test_fetcher_refuses_anything_but_existing_static_files(url, caplog):
    url = url.replace("STATIC/", static_base_url())
    fetcher = StaticOnlyURLFetcher()
    with caplog.at_level(logging.INFO, logger="reports.pdf.fetcher"), pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url] and fetcher.served == []
    assert "PDF fetch refused" in caplog.text


def test_fetcher_refuses_http_without_connecting(http_server):
    base, requests = http_server
    fetcher = StaticOnlyURLFetcher()
    for url in (f"{base}/style.css", base.replace("http", "https") + "/x.png"):
        with pytest.raises(FetchRefused):
            fetcher.fetch(url)
    assert requests == []


def test_raw_markup_reaching_weasyprint_loads_nothing_from_outside(http_server):
    """Even markup that was never escaped can only name static files: every outside URL is
    refused before any connection, including redirects and CSS url()/@import."""
    base, requests = http_server
    html = f"""
      <style>@import url({base}/import.css); body {{ background: url({base}/bg.png) }}</style>
      <link rel="stylesheet" href="{base}/link.css">
      <link rel="stylesheet" href="../../../../etc/passwd">
      <p>before</p>
      <img src="file:///etc/passwd"><img src="{base}/img.png">
      <p style="background: url(http://127.0.0.1:6379)">after</p>
    """
    fetcher = StaticOnlyURLFetcher()
    HTML(string=html, base_url=static_base_url(), url_fetcher=fetcher).write_pdf()

    assert requests == []
    assert fetcher.served == []
    assert set(fetcher.requested) == set(fetcher.refused)
    assert {f"{base}/import.css", f"{base}/link.css", "file:///etc/passwd"} <= set(fetcher.refused)
    assert "http://127.0.0.1:6379" in fetcher.refused

"""WeasyPrint's only way to load anything. It serves the project's own static files and
refuses everything else: no http(s), no data: URLs, no file:// outside the static folders,
no redirects. Every request is logged and kept on the fetcher, so a render (and a test) can
show exactly what a document asked for."""

import functools
import logging
import mimetypes
import ssl
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)


class FetchRefused(ValueError):
    pass


def static_roots() -> list[Path]:
    return [Path(folder).resolve() for folder in settings.STATICFILES_DIRS]


def static_base_url() -> str:
    """Base URL for relative references in PDF templates: the project's static folder."""
    return static_roots()[0].as_uri() + "/"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """WeasyPrint's fetcher builds an HTTPS handler, and a default SSL context loads the CA
    bundle (about 20 ms). Only file:// is ever allowed here, so one context per process does."""
    return ssl.create_default_context()


class StaticOnlyURLFetcher(URLFetcher):
    def __init__(self):
        super().__init__(
            allowed_protocols={"file"},
            allow_redirects=False,
            timeout=5,
            ssl_context=_ssl_context(),
        )
        self.requested: list[str] = []
        self.served: list[str] = []
        self.refused: list[str] = []
        self.failed: list[str] = []

    @property
    def problems(self) -> list[str]:
        """What a document asked for and didn't get. WeasyPrint only warns and renders on
        without it, so the render service treats any of these as a failed render."""
        return [f"refused {url[:200]}" for url in self.refused] + [
            f"failed {url[:200]}" for url in self.failed
        ]

    def fetch(self, url, headers=None):
        self.requested.append(url)
        try:
            path = self._allowed_path(url)
        except FetchRefused as refusal:
            self.refused.append(url)
            logger.warning("PDF fetch refused: %s (%s)", url[:300], refusal)
            raise
        try:
            body = path.read_bytes()
        except BaseException:  # incl. a Celery soft time limit, which WeasyPrint would swallow
            self.failed.append(url)
            raise
        self.served.append(url)
        logger.info("PDF fetch served: %s", url[:300])
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), body=body, headers={"Content-Type": content_type})

    @staticmethod
    def _allowed_path(url: str) -> Path:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise FetchRefused("only the project's static files may be loaded")
        path = Path(unquote(parts.path)).resolve()  # resolves "..", symlinks
        if not any(path.is_relative_to(root) for root in static_roots()):
            raise FetchRefused("outside the static folders")
        if not path.is_file():
            raise FetchRefused("no such static file")
        return path

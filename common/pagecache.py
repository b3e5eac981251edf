"""Whole-page cache for anonymous visitors, shared by every web process (the default cache).

Campaigns and crawlers bring hundreds of anonymous visitors a second to a handful of pages
that change only when staff edit the catalogue. Views opt in with
`@page_cache_public(params=(...))`, naming the query parameters they read; the middleware
answers a later anonymous GET for the same page from the cache before sessions, CSRF,
authentication or the database are touched.

- **Who gets a cached page**: GET/HEAD requests without a session cookie and without a
  messages cookie. Staff (logged in) always carry a session, so they never see one.
- **What is stored**: 200 answers of opted-in views that set no cookie, used no CSRF
  token (a token is personal; caching one would break other visitors' forms) and no
  Content-Security-Policy nonce (each answer's policy names a fresh one).
- **Two tiers**: each web process keeps the pages it served last in its own memory
  (`PAGE_CACHE_LOCAL_ENTRIES`); a page missing there comes from the shared cache, and only a
  page missing in both is rendered.
- **No round trip per hit**: with Redis, each process watches the generation key (Redis
  client-side caching in broadcast mode, `CLIENT TRACKING ... BCAST`, redirected to the same
  connection's pub/sub: https://redis.io/docs/latest/develop/reference/client-side-caching/).
  Redis pushes a message on that connection when the key changes, in the same pass of its
  event loop that answers the command that changed it; a hit only checks the socket for such
  a message (a non-blocking poll). The process that made the change forgets the generation at
  once; another process could miss it only if a request of its own reached this check between
  Redis's two writes (microseconds). While the watch is down, each request reads the
  generation from the cache.
- **Invalidation**: every page is stored with the cache *generation* it was rendered under
  and is served as current only while the generation is unchanged (see "After an edit").
  Anything that changes what pages show calls `page_cache_invalidate()`, which bumps the
  generation at once and again after the transaction commits: a page rendered from data
  read before the commit, stored under the first bump, is discarded by the second.
  `PAGE_CACHE_SECONDS` bounds what a write that bypasses the invalidation (a raw SQL fix)
  can leave behind.
- **After an edit**, a popular page is rendered again by one request, not by every
  request that arrives before the new version is stored: the first takes a lock
  (common/recompute.py) and renders; requests overlapping that render get the previous
  version (out of date for as long as the render takes, tens of milliseconds, like a CDN's
  stale-while-revalidate), a page just taken down included. A request that follows another
  always gets the page as it is now. The lock stops holding the others back after
  `PAGE_CACHE_RENDER_SECONDS` (a render that died or is that slow). A page rendered from
  search figures that were themselves being recomputed is not stored; a page that is no
  longer shareable (a 404 now) loses its stored version.
- **Compressed once**: a stored page is also kept gzip-compressed and sent so to browsers
  that accept it (all do), the visitor whose request rendered it included: a 70 KB report
  page leaves as about 15 KB. Only shared pages are compressed: they hold no secret (no CSRF
  token, nothing personal), so BREACH does not apply.
- **Keys** hold the scheme, host, path, the values of the parameters the view declared
  (in their order) and the visitor's currency (their `currency` cookie if they picked one,
  else DEFAULT_CURRENCY: common/currency.py), nothing else: a tracking id (`utm_*`, `gclid`) or a junk parameter gets
  the same page and stores nothing new. The view's `request.GET` holds only the declared
  parameters too (and `utm_*`, which never change a page), so what it reads is what the key
  holds. The raw query string stays as sent, for redirects, which are never stored: a stored
  page must not echo it. Keys live under a namespace of the code and template files and the
  database, so a deploy or a second site on the same Redis never serves another's pages.
- **A cache that fails or hangs** is asked through the shared cache's breaker
  (common/breaker.py): after one failure (at most CACHE_TIMEOUT_SECONDS) pages are rendered
  without it, neither looked up nor stored, for CACHE_BREAKER_SECONDS; then one request tries
  it again. The generation watch connects with the same timeout.

https://docs.djangoproject.com/en/6.1/topics/cache/#the-per-site-cache does the same for
every page but keys on the Cookie header, which campaign (first-touch) and CSRF cookies vary.
"""

import contextlib
import gzip
import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import redis
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache as shared_cache
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.middleware.csp import get_nonce
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers

from common.breaker import cache_call
from common.currency import currency_for
from common.recompute import previous_was_served, recomputing, request_started

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"
ACCEPTS_GZIP = re.compile(r"\bgzip\b")
# Vary values a shared page may carry: every anonymous visitor without a session gets the
# same page whatever their cookies say.
ALLOWED_VARY = {"cookie", "accept-encoding"}
# Headers that belong to one answer, never to the stored page.
PERSONAL_HEADERS = {"set-cookie", "date"}
# What a page's source is made of: a change to any of these files is a new namespace.
SOURCE_SUFFIXES = (".py", ".html", ".txt", ".json", ".css", ".svg")


def page_cache_public(view=None, *, params: Iterable[str] = ()):
    """Marks a view whose anonymous GET answer may be shared by every anonymous visitor.
    `params`: every query parameter the view reads (the page is stored under their values
    alone, and the view's request.GET holds nothing else); none by default. Use as
    `@page_cache_public` or `@page_cache_public(params=("q", "page"))`."""

    def mark(view):
        view.page_cache_public = True
        view.page_cache_params = tuple(sorted(set(params)))
        return view

    return mark if view is None else mark(view)


def page_cache_invalidate() -> None:
    """Every cached page is stale: bump the generation now, and again after commit."""
    _generation_bump()
    transaction.on_commit(_generation_bump)


def _generation_bump() -> None:
    generation_watch.forget()  # this process knows at once, without waiting for the message
    # Tried even while the breaker is open: other processes serve pages while this one can't
    # reach the cache. If it fails, PAGE_CACHE_SECONDS bounds what they keep serving.
    cache_call(_generation_incr, fallback=None, purpose="pages not invalidated", always=True)


def _generation_incr() -> None:
    try:
        shared_cache.incr(GENERATION_KEY)
    except ValueError:  # no generation yet (or evicted): a new one invalidates everything
        generation_current()


def generation_current() -> int:
    """The current generation. A missing one (a new or flushed Redis) starts from the clock,
    never from a value that pages kept in some process's memory were stored under."""
    generation = shared_cache.get(GENERATION_KEY)
    if generation is None:
        shared_cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        generation = shared_cache.get(GENERATION_KEY)
    return generation


@cache
def namespace() -> str:
    """Changes with the code, templates and static files a page is built from, the database
    and the settings that appear on pages."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for folder in ("templates", "static", "reports", "enquiries", "common", "smosite"):
        for path in sorted((base / folder).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "migrations" not in path.parts:
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        digest.update(manifest.read_bytes())
    database = settings.DATABASES["default"]
    for value in (database.get("HOST"), database.get("PORT"), database["NAME"]):
        digest.update(str(value).encode())
    digest.update(f"{settings.SITE_URL}|{settings.PUBLISHER_NAME}".encode())
    return digest.hexdigest()[:16]


def page_key(request, params: Iterable[str] = ()) -> str:
    """The page's key: its address with the declared parameters' values, each parameter's
    values in the order sent (a view reading the last of two values gets another page)."""
    query = _query_kept(request.GET, params).urlencode()
    address = f"{request.scheme}://{request.get_host()}{request.path}?{query}"
    address += f" {currency_for(request)}"  # one version per currency (common/currency.py)
    return f"pagecache:{namespace()}:{hashlib.sha256(address.encode()).hexdigest()}"


def _query_kept(query: QueryDict, params: Iterable[str]) -> QueryDict:
    kept = QueryDict(mutable=True)
    for name in sorted(set(params)):
        if name in query:
            kept.setlist(name, query.getlist(name))
    kept._mutable = False
    return kept


@contextlib.contextmanager
def _only_parameters(request, params: Iterable[str]) -> Iterator[None]:
    """The view reads only the declared parameters (see page_cache_public) and the campaign
    ones (`utm_*`: they never change a page, but a redirect keeps them); the middleware around
    this one gets request.GET back as it came (first-touch attribution reads it on the way
    out)."""
    sent = request.GET
    request.GET = _query_kept(sent, (*params, *(n for n in sent if n.startswith("utm_"))))
    try:
        yield
    finally:
        request.GET = sent


class PageCacheMiddleware:
    """Serves and stores anonymous pages of views marked with `@page_cache_public`.

    Goes after SecurityMiddleware (its headers are added to every answer, cached or not)
    and before SessionMiddleware; what lies between runs for cached answers too."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.local = LocalPages()

    def __call__(self, request):
        params = self._shared_params(request)
        if params is None:
            return self.get_response(request)
        key = page_key(request, params)
        with _only_parameters(request, params):
            return self._answer(request, key)

    def _answer(self, request, key: str):
        found = cache_call(
            lambda: self._lookup(key), fallback=None, purpose="pages rendered without it"
        )
        if found is None:  # the cache failed, or its breaker is open: render, store nothing
            return self.get_response(request)
        generation, stored = found
        if stored is not None and stored[0] == generation:
            return self._rebuild(stored, gzipped=self._accepts_gzip(request))
        if stored is None:  # nothing to answer overlapping requests with: no lock
            return self._render(request, key, generation, stored)
        with recomputing(key, settings.PAGE_CACHE_RENDER_SECONDS) as rendering:
            if rendering is False:
                # Another request is rendering this page for the new generation: the
                # previous version meanwhile (see "After an edit" above).
                return self._rebuild(stored, gzipped=self._accepts_gzip(request))
            return self._render(request, key, generation, stored)

    def _lookup(self, key: str) -> tuple[int, tuple | None]:
        generation = generation_watch.current()
        stored = self.local.get(key, generation)
        if stored is None:
            stored = shared_cache.get(key)
            if stored is not None and stored[0] == generation:
                self.local.put(key, stored)
        return generation, stored

    def _render(self, request, key: str, generation: int, stored):
        request_started()
        response = self.get_response(request)
        if previous_was_served():
            pass  # built from figures being recomputed: not the page's current version
        elif self._storable(request, response):
            # The render is answered as the stored copy will be: compressed for this visitor
            # too, and with the same headers (Vary: Accept-Encoding) for caches in between.
            return self._rebuild(
                self._store(key, generation, response), gzipped=self._accepts_gzip(request)
            )
        elif stored is not None:
            self._forget(key)  # no previous version for the next overlapping request
        return response

    @staticmethod
    def _shared_params(request) -> tuple[str, ...] | None:
        """The parameters the view reads, when this request's answer may be shared; None
        when it may not (not a GET, a visitor with a session or a message, another view)."""
        if settings.PAGE_CACHE_SECONDS <= 0 or request.method not in ("GET", "HEAD"):
            return None
        cookies = request.COOKIES
        if settings.SESSION_COOKIE_NAME in cookies or CookieStorage.cookie_name in cookies:
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        if not getattr(match.func, "page_cache_public", False):
            return None
        return getattr(match.func, "page_cache_params", ())

    @staticmethod
    def _storable(request, response) -> bool:
        vary = {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}
        cache_control = response.get("Cache-Control", "").lower()
        return (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
            # A page that used the request's CSP nonce: the next answer's policy names
            # another nonce, so its inline scripts would be blocked (and a nonce is single-use).
            and not get_nonce(request)
            and vary <= ALLOWED_VARY
            and not any(word in cache_control for word in ("private", "no-store", "no-cache"))
        )

    def _store(self, key: str, generation: int, response) -> tuple:
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in PERSONAL_HEADERS
        ]
        compressed = gzip.compress(response.content, compresslevel=6, mtime=0)
        stored = (generation, response.status_code, headers, response.content, compressed)
        self.local.put(key, stored)
        cache_call(
            lambda: shared_cache.set(key, stored, timeout=settings.PAGE_CACHE_SECONDS),
            fallback=None,
            purpose="page not stored",
        )
        return stored

    def _forget(self, key: str) -> None:
        """The page is no longer one to share (a 404 now, a form that needs a token): its
        stored previous version goes, or overlapping requests would keep getting it."""
        self.local.forget(key)
        cache_call(lambda: shared_cache.delete(key), fallback=None, purpose="page not dropped")

    @staticmethod
    def _accepts_gzip(request) -> bool:
        return bool(ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))

    @staticmethod
    def _rebuild(stored, *, gzipped: bool) -> HttpResponse:
        _generation, status, headers, content, compressed = stored
        response = HttpResponse(compressed if gzipped else content, status=status)
        for name, value in headers:
            response.headers[name] = value
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Content-Length"] = str(len(compressed))
        patch_vary_headers(response, ("Accept-Encoding",))
        return response


class LocalPages:
    """The pages this process served last (least recently used out first), each with the
    generation it was rendered under, for at most PAGE_CACHE_SECONDS like the shared copy.
    Threads of one process share it."""

    def __init__(self):
        self.pages: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str, generation: int) -> tuple | None:
        with self.lock:
            expires, stored = self.pages.get(key, (0.0, None))
            if stored is None or stored[0] != generation or expires < time.monotonic():
                return None
            self.pages.move_to_end(key)
            return stored

    def forget(self, key: str) -> None:
        with self.lock:
            self.pages.pop(key, None)

    def put(self, key: str, stored: tuple) -> None:
        with self.lock:
            self.pages[key] = (time.monotonic() + settings.PAGE_CACHE_SECONDS, stored)
            self.pages.move_to_end(key)
            while len(self.pages) > settings.PAGE_CACHE_LOCAL_ENTRIES:
                self.pages.popitem(last=False)


class GenerationWatch:
    """This process's knowledge of the current generation, kept valid by Redis's
    invalidation messages on one connection of its own (see the module's docstring)."""

    RECONNECT_SECONDS = 1.0

    def __init__(self):
        self.lock = threading.Lock()
        self.connection = None
        self.location = ""
        self.generation: int | None = None
        self.attempted = ""  # the last location tried, and when to try it again
        self.next_attempt = 0.0

    def current(self) -> int:
        with self.lock:
            if self.generation is not None and self._unchanged():
                return self.generation
            watching = self._watch()  # before reading: a change after the read is noticed
            generation = generation_current()
            self.generation = generation if watching else None
            return generation

    def forget(self) -> None:
        with self.lock:
            self.generation = None

    def _unchanged(self) -> bool:
        if self.connection is None or self.location != _redis_location():
            return False
        try:
            changed = False
            while self.connection.can_read(timeout=0):
                self.connection.read_response()  # an invalidation, or a flush (key None)
                changed = True
        except (redis.RedisError, OSError):
            self._drop()
            return False
        return not changed

    def _watch(self) -> bool:
        location = _redis_location()
        if self.connection is not None and self.location == location:
            return True
        self._drop()
        if not location or (location == self.attempted and time.monotonic() < self.next_attempt):
            return False
        self.attempted, self.next_attempt = location, time.monotonic() + self.RECONNECT_SECONDS
        try:
            self.connection = self._subscribe(location)
        except redis.ResponseError:  # a Redis without client tracking (before 6, or disabled)
            logger.warning("page cache: cannot watch the generation; reading it per request")
            self._drop()
            return False
        except (redis.RedisError, OSError):
            self._drop()
            raise  # unreachable or hung: the caller's breaker stops asking (common/breaker.py)
        self.location = location
        return True

    @staticmethod
    def _subscribe(location: str):
        timeout = settings.CACHE_TIMEOUT_SECONDS
        pool = redis.ConnectionPool.from_url(
            location,
            protocol=2,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            socket_keepalive=True,
        )
        connection = pool.make_connection()
        connection.connect()
        connection.send_command("CLIENT", "ID")
        client_id = connection.read_response()
        key = shared_cache.make_and_validate_key(GENERATION_KEY)
        connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", key
        )
        connection.read_response()
        connection.send_command("SUBSCRIBE", "__redis__:invalidate")
        connection.read_response()
        return connection

    def _drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self.connection.disconnect()
        self.connection = None
        self.generation = None
        self.location = ""


def _redis_location() -> str:
    """The Redis the default cache writes to, or "" for other cache backends."""
    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("redis.RedisCache"):
        return ""
    location = config["LOCATION"]
    servers = location.split(",") if isinstance(location, str) else list(location)
    return servers[0].strip()


generation_watch = GenerationWatch()

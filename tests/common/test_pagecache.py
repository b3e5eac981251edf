"""The anonymous page cache: a second anonymous visit costs no query; what staff change in
admin (the real admin forms) shows on the next anonymous visit; staff never get a cached page;
form pages keep their personal CSRF tokens; a campaign landing on a cached page is remembered."""

import threading
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common import pagecache
from common.recompute import recomputing
from contacts.middleware import COOKIE_NAME
from reports.models import Category, KeyPlayer, Licence, Report
from reports.services.seed import report_load_seed
from tests.factories import LicenceFactory, ReportFactory

pytestmark = pytest.mark.django_db

REPORT_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"


@pytest.fixture
def seed_report(db):
    report_load_seed()
    return Report.objects.get(number=1780960)


def anonymous_get(url: str, **headers):
    """A new visitor (no cookies); returns the answer and the queries it cost."""
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(url, headers=headers)
    return response, len(queries)


class AdminFormReader(HTMLParser):
    """What a browser submits for the admin's change form: every named input, textarea and
    selected option of the form with id `<model>_form`, as the page shows them."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self.in_form = False
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("id") or "").endswith("_form"):
            self.in_form = True
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value") or "on"
            else:
                self.data[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += (
                data.removeprefix("\n") if not self.data[self.textarea] else data
            )


def admin_form_post(admin_client, url: str, **changes) -> None:
    reader = AdminFormReader()
    reader.feed(admin_client.get(url).content.decode())
    assert reader.data, f"no admin form on {url}"
    missing = set(changes) - set(reader.data)
    assert not missing, f"the form has no fields {missing}"
    response = admin_client.post(url, reader.data | changes)
    assert response.status_code == 302, response.content.decode()[:3000]


def report_change_url(report) -> str:
    return reverse("admin:reports_report_change", args=[report.pk])


def inline_field(report, prefix: str, model, pk: int, field: str) -> str:
    """The name of `field` of row `pk` in the report form's inline `prefix`."""
    ids = list(
        model.objects.filter(report=report).order_by("position", "pk").values_list("pk", flat=True)
    )
    return f"{prefix}-{ids.index(pk)}-{field}"


# --- Served from the cache ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", REPORT_URL, "/?q=clinical"])
def test_a_second_anonymous_visit_is_answered_without_a_query(seed_report, url):
    first, first_queries = anonymous_get(url)
    second, second_queries = anonymous_get(url)
    assert first.status_code == second.status_code == 200
    assert first_queries > 0 and second_queries == 0
    assert second.content == first.content
    assert second["X-Frame-Options"] == "DENY" and second["Content-Type"] == first["Content-Type"]


def test_browsers_that_accept_gzip_get_the_stored_page_compressed(seed_report):
    import gzip

    plain, _ = anonymous_get(REPORT_URL)
    compressed, queries = anonymous_get(REPORT_URL, accept_encoding="gzip, deflate, br")
    assert queries == 0 and compressed["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.content) == plain.content
    assert int(compressed["Content-Length"]) == len(compressed.content) < len(plain.content) / 3
    assert "Accept-Encoding" in compressed["Vary"]
    again, _ = anonymous_get(REPORT_URL)
    assert "Content-Encoding" not in again and again.content == plain.content


def test_the_visitor_whose_request_renders_the_page_gets_it_compressed_too(seed_report):
    import gzip

    first, queries = anonymous_get(REPORT_URL, accept_encoding="gzip, deflate, br")
    assert queries > 0 and first["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in first["Vary"]
    stored, _ = anonymous_get(REPORT_URL)
    assert gzip.decompress(first.content) == stored.content


def test_campaign_parameters_share_the_page_and_still_set_the_first_touch_cookie(seed_report):
    anonymous_get(REPORT_URL)
    campaign = {"utm_source": "newsletter", "utm_campaign": "march"}
    response, queries = anonymous_get(f"{REPORT_URL}?{urlencode(campaign)}")
    assert response.status_code == 200 and queries == 0
    assert COOKIE_NAME in response.cookies


def test_a_campaign_landing_remembered_from_a_cached_page_is_recorded_on_the_lead(
    seed_report, settings
):
    settings.FORM_MIN_FILL_SECONDS = 0
    anonymous_get(REPORT_URL)
    visitor = Client()
    assert visitor.get(f"{REPORT_URL}?utm_source=linkedin&utm_campaign=smo-q1").status_code == 200
    form = visitor.get(f"/enquiry/request-sample/{seed_report.number}")
    from tests.support.forms import form_started_token

    response = visitor.post(
        f"/enquiry/request-sample/{seed_report.number}",
        {
            "name": "Jane Doe",
            "email": "jane@acme-pharma.example",
            "company": "Acme",
            "job_title": "CMO",
            "country": "DE",
            "consent": "on",
            "form_started": form_started_token(),
            "csrfmiddlewaretoken": form.context["csrf_token"],
        },
    )
    assert response.status_code == 302
    from enquiries.models import SampleRequest

    lead = SampleRequest.objects.get()
    assert (lead.utm_source, lead.utm_campaign) == ("linkedin", "smo-q1")
    assert lead.landing_page.startswith(REPORT_URL)


def test_an_unknown_page_and_a_draft_are_never_cached(seed_report):
    draft = ReportFactory(status=Report.Status.DRAFT)
    for url in ("/no-such-report-r42", draft.get_absolute_url()):
        assert anonymous_get(url)[0].status_code == 404
        assert anonymous_get(url)[1] > 0


# --- Keyed by the parameters the view reads ---------------------------------------------------


def stored_pages() -> set[bytes]:
    """The pages stored in Redis (not the generation, not the render locks)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    return {
        key
        for key in client.scan_iter(match="*pagecache:*", count=1000)
        if not key.endswith(b":recomputing") and pagecache.GENERATION_KEY.encode() not in key
    }


def test_junk_parameters_get_the_same_page_and_store_nothing_new(seed_report):
    """Anyone could fill the cache: each unknown parameter stored a page of its own (50 junk
    requests, 51 keys). The answer to a URL with junk parameters is the page itself, under
    its one key (no redirect: ad clicks carry gclid and fbclid, and a redirect would cost
    each of them a round trip)."""
    clean = {url: anonymous_get(url)[0].content for url in ("/", REPORT_URL, "/?q=clinical")}
    pages = stored_pages()
    assert len(pages) == 3
    visitor = Client()
    with CaptureQueriesContext(connection) as queries:
        for n in range(1000):
            url = ("/", REPORT_URL, "/?q=clinical")[n % 3]
            junk = urlencode({f"junk{n}": "x" * (n % 50), "gclid": f"Cj0K{n}"})
            response = visitor.get(f"{url}{'&' if '?' in url else '?'}{junk}")
            assert response.status_code == 200 and response.content == clean[url], url
    assert len(queries) == 0  # every one answered from the cache
    many = urlencode({f"p{n}": n for n in range(500)})
    assert visitor.get(f"/?{many}").content == clean["/"]
    assert stored_pages() == pages


def test_the_view_reads_only_the_parameters_it_declared(settings):
    """A stored page can't carry what one visitor put in a parameter the view did not
    declare: the view never sees it."""
    from tests.common import urls_pagecache

    settings.ROOT_URLCONF = "tests.common.urls_pagecache"
    urls_pagecache.calls.clear()
    first = Client().get("/echo-page?colour=red&junk=%3Cscript%3E&size=L")
    assert first.content.decode() == "[('colour', ['red']), ('size', ['L'])]"
    again = Client().get("/echo-page?size=L&colour=red&other=1")  # same values, any order
    assert again.content == first.content and urls_pagecache.calls == ["echo"]


def test_repeated_values_keep_their_order_in_the_key(settings):
    """`?colour=red&colour=blue` is not `?colour=blue&colour=red`: a view reading the last
    value shows another page."""
    from tests.common import urls_pagecache

    settings.ROOT_URLCONF = "tests.common.urls_pagecache"
    urls_pagecache.calls.clear()
    one = Client().get("/echo-page?colour=red&colour=blue").content
    other = Client().get("/echo-page?colour=blue&colour=red").content
    assert one != other and urls_pagecache.calls == ["echo", "echo"]


def test_a_campaign_still_lands_on_the_page_with_its_parameters_recorded(seed_report):
    anonymous_get(REPORT_URL)
    response, queries = anonymous_get(f"{REPORT_URL}?utm_source=mail&fbclid=abc&junk=1")
    assert response.status_code == 200 and queries == 0
    assert COOKIE_NAME in response.cookies  # first-touch attribution saw the utm_* as sent


# --- Staff edits in admin show on the next anonymous visit -------------------------------


def test_editing_the_report_in_admin_changes_the_next_anonymous_page(admin_client, seed_report):
    assert b"A title staff just changed" not in anonymous_get(REPORT_URL)[0].content
    admin_form_post(
        admin_client, report_change_url(seed_report), title="A title staff just changed"
    )
    assert b"A title staff just changed" in anonymous_get(REPORT_URL)[0].content
    assert b"A title staff just changed" in anonymous_get("/")[0].content


def test_a_licence_price_changed_in_admin_shows_at_once(admin_client, seed_report):
    single = seed_report.licences.get(kind=Licence.Kind.SINGLE)
    assert b"4,321" not in anonymous_get(REPORT_URL)[0].content
    field = inline_field(seed_report, "licences", Licence, single.pk, "price")
    admin_form_post(admin_client, report_change_url(seed_report), **{field: "4321.00"})
    assert b"4,321" in anonymous_get(REPORT_URL)[0].content


def test_a_key_player_renamed_in_admin_shows_at_once(admin_client, seed_report):
    player = seed_report.key_players.order_by("position", "pk").first()
    anonymous_get(REPORT_URL)
    field = inline_field(seed_report, "key_players", KeyPlayer, player.pk, "name")
    admin_form_post(admin_client, report_change_url(seed_report), **{field: "Renamed Research Co"})
    assert b"Renamed Research Co" in anonymous_get(REPORT_URL)[0].content


def test_a_category_renamed_in_admin_shows_on_the_catalogue(admin_client, seed_report):
    category = seed_report.category
    anonymous_get("/")
    url = reverse("admin:reports_category_change", args=[category.pk])
    admin_form_post(admin_client, url, name="Renamed Category")
    assert b"Renamed Category" in anonymous_get("/")[0].content
    assert Category.objects.get(pk=category.pk).name == "Renamed Category"


def test_unpublishing_in_admin_takes_the_page_down_at_once(admin_client, seed_report):
    assert anonymous_get(REPORT_URL)[0].status_code == 200
    admin_form_post(admin_client, report_change_url(seed_report), status="draft")
    assert anonymous_get(REPORT_URL)[0].status_code == 404
    assert seed_report.title.encode() not in anonymous_get("/")[0].content


def test_publishing_in_admin_puts_the_report_on_the_catalogue_at_once(admin_client, seed_report):
    draft = ReportFactory(status=Report.Status.DRAFT, title="A Freshly Published Market")
    LicenceFactory(report=draft)  # the publishing gate wants something on sale
    assert b"A Freshly Published Market" not in anonymous_get("/")[0].content
    admin_form_post(admin_client, report_change_url(draft), status="published")
    assert b"A Freshly Published Market" in anonymous_get("/")[0].content
    assert anonymous_get(draft.get_absolute_url())[0].status_code == 200


def test_a_page_kept_in_a_web_process_memory_is_dropped_after_an_edit(admin_client, seed_report):
    visitor = Client()  # one client: one middleware chain, like one gunicorn worker
    visitor.get(REPORT_URL)
    with CaptureQueriesContext(connection) as queries:
        visitor.get(REPORT_URL)
    assert len(queries) == 0
    admin_form_post(admin_client, report_change_url(seed_report), title="Edited while kept")
    assert b"Edited while kept" in visitor.get(REPORT_URL).content


def test_a_flushed_shared_cache_never_brings_back_a_page_kept_in_memory(seed_report):
    from django.core.cache import cache

    visitor = Client()
    visitor.get(REPORT_URL)
    Report.objects.filter(pk=seed_report.pk).update(title="Changed while the cache was flushed")
    cache.clear()  # Redis emptied: the generation starts again, from the clock
    from tests.support.waiting import wait_until

    wait_until(  # the flush's message, as every web process gets it
        lambda: pagecache.generation_watch.connection.can_read(timeout=0),
        timeout=5,
        message="Redis sent no invalidation for the flush",
    )
    assert b"Changed while the cache was flushed" in visitor.get(REPORT_URL).content


def test_invalidation_bumps_the_generation_again_after_commit(
    seed_report, django_capture_on_commit_callbacks
):
    """A visitor who read the data before the commit but the generation after the first bump
    stored an old page under that generation: the bump after commit discards it."""
    from django.core.cache import cache

    anonymous_get(REPORT_URL)
    before = cache.get(pagecache.GENERATION_KEY, 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Report.objects.filter(pk=seed_report.pk).update(title="Changed by a raw update")
        pagecache.page_cache_invalidate()
        assert cache.get(pagecache.GENERATION_KEY) == before + 1
    assert len(callbacks) == 1 and cache.get(pagecache.GENERATION_KEY) == before + 2
    assert b"Changed by a raw update" in anonymous_get(REPORT_URL)[0].content


# --- Who never gets a cached page ----------------------------------------------------------


def test_staff_never_get_a_cached_page(admin_client, seed_report):
    anonymous_get(REPORT_URL)
    # A write that bypasses the ORM's signals leaves anonymous visitors the cached page
    # until PAGE_CACHE_SECONDS; staff see the database as it is.
    Report.objects.filter(pk=seed_report.pk).update(title="Edited behind the cache's back")
    assert b"Edited behind the cache's back" not in anonymous_get(REPORT_URL)[0].content
    with CaptureQueriesContext(connection) as queries:
        staff_page = admin_client.get(REPORT_URL)
    assert b"Edited behind the cache's back" in staff_page.content and len(queries) > 0


def test_a_page_seen_by_staff_is_not_stored_for_visitors(admin_client, seed_report):
    admin_client.get(REPORT_URL)
    assert anonymous_get(REPORT_URL)[1] > 0  # rendered for the visitor, not taken from staff


def test_a_visitor_with_a_message_waiting_gets_a_fresh_page(seed_report):
    anonymous_get(REPORT_URL)
    visitor = Client()
    visitor.cookies["messages"] = "anything"
    with CaptureQueriesContext(connection) as queries:
        assert visitor.get(REPORT_URL).status_code == 200
    assert len(queries) > 0


def test_the_cache_can_be_turned_off(seed_report, settings):
    settings.PAGE_CACHE_SECONDS = 0
    anonymous_get(REPORT_URL)
    assert anonymous_get(REPORT_URL)[1] > 0


def test_pages_are_rendered_when_the_cache_is_unreachable(seed_report, settings):
    from tests.support.smtp import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    for _ in range(2):
        response, queries = anonymous_get(REPORT_URL)
        assert response.status_code == 200 and queries > 0


# --- Forms keep their own CSRF tokens ------------------------------------------------------


def test_form_pages_are_not_cached_and_each_visitor_gets_a_working_token(seed_report, settings):
    settings.FORM_MIN_FILL_SECONDS = 0
    url = f"/enquiry/request-sample/{seed_report.number}"
    tokens = []
    for _ in range(2):
        visitor = Client(enforce_csrf_checks=True)
        form = visitor.get(url)
        assert "csrftoken" in form.cookies
        tokens.append(form.cookies["csrftoken"].value)
        refused = visitor.post(url, {"csrfmiddlewaretoken": "wrong"})
        assert refused.status_code == 403
    assert tokens[0] != tokens[1]


def test_a_shared_view_that_put_a_csrf_token_in_its_page_is_not_stored(settings):
    """A personal token must never reach another visitor through a shared page."""
    from tests.common import urls_pagecache

    settings.ROOT_URLCONF = "tests.common.urls_pagecache"
    urls_pagecache.calls.clear()
    for _ in range(2):
        assert Client().get("/token-page").status_code == 200
        assert Client().get("/plain-page").status_code == 200
    assert urls_pagecache.calls == ["token", "plain", "token"]


def test_a_shared_view_that_used_the_csp_nonce_is_not_stored(settings):
    """A stored page would carry a nonce the next answer's policy does not name: its inline
    script would be blocked (and a nonce must never be reused)."""
    from tests.common import urls_pagecache

    settings.ROOT_URLCONF = "tests.common.urls_pagecache"
    urls_pagecache.calls.clear()
    nonces = []
    for _ in range(2):
        response = Client().get("/nonce-page")
        nonce = response.content.decode().split('nonce="')[1].split('"')[0]
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
        nonces.append(nonce)
    assert urls_pagecache.calls == ["nonce", "nonce"] and nonces[0] != nonces[1]


# --- The generation watch: no Redis round trip per hit, and it survives a Redis restart ------


class OwnRedis:
    """A redis-server of this test's own, so it can be stopped and started again."""

    def __init__(self, tmp_path):
        from tests.support.smtp import free_port

        self.port = free_port()
        self.tmp_path = tmp_path
        self.process = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        import shutil
        import subprocess

        import redis

        from tests.support.waiting import wait_until

        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers():
            try:
                return redis.Redis.from_url(self.url).ping()
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, message="redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def commands_during(self, action) -> int:
        import redis

        client = redis.Redis.from_url(self.url)
        client.ping()  # the connection's handshake happens here, not between the counts
        before = client.info("stats")["total_commands_processed"]
        action()
        return client.info("stats")["total_commands_processed"] - before - 1


@pytest.fixture
def own_redis(tmp_path, settings):
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    yield server
    if server.process.poll() is None:
        server.stop()


def test_a_hit_asks_redis_nothing_while_the_generation_is_watched(own_redis, seed_report):
    visitor = Client()
    visitor.get(REPORT_URL)
    visitor.get(REPORT_URL)

    def five_hits():
        for _ in range(5):
            assert visitor.get(REPORT_URL).status_code == 200

    assert own_redis.commands_during(five_hits) == 0
    seed_report.title = "Seen by the watching process"
    seed_report.save()
    assert b"Seen by the watching process" in visitor.get(REPORT_URL).content


def test_the_watch_drops_with_redis_and_recovers_when_it_is_back(own_redis, seed_report, settings):
    from tests.support.waiting import wait_until

    settings.CACHE_BREAKER_SECONDS = 0.5
    visitor = Client()
    visitor.get(REPORT_URL)
    own_redis.stop()
    down = visitor.get(REPORT_URL)  # rendered: neither the cache nor the watch answers
    assert down.status_code == 200 and pagecache.generation_watch.connection is None
    own_redis.start()
    pagecache.generation_watch.next_attempt = 0  # don't wait out the reconnect pause

    def watching_again():  # once the cache's breaker lets a request try it
        assert visitor.get(REPORT_URL).status_code == 200
        return pagecache.generation_watch.connection is not None

    wait_until(watching_again, timeout=10, message="the page cache never used Redis again")
    visitor.get(REPORT_URL)
    assert own_redis.commands_during(lambda: visitor.get(REPORT_URL)) == 0  # a hit again
    seed_report.title = "Edited after Redis came back"
    seed_report.save()
    assert b"Edited after Redis came back" in visitor.get(REPORT_URL).content


# --- After an edit: one request renders, overlapping ones get the previous version -----------


class HeldRenders:
    """The report page's view held at a gate: a request held there is "a request rendering
    the page" for as long as the test likes. Counts the renders."""

    def __init__(self, monkeypatch):
        import reports.views.catalogue as views

        self.count, self.started, self.gate = 0, threading.Event(), threading.Event()
        real = views.report_page_build

        def held(**kwargs):
            self.count += 1
            self.started.set()
            assert self.gate.wait(timeout=30)
            return real(**kwargs)

        monkeypatch.setattr(views, "report_page_build", held)


@pytest.fixture
def held_renders(monkeypatch):
    """HeldRenders for the test; its gate opens at the end whatever the test's outcome, and
    the threads it held finish before the next test."""
    renders = HeldRenders(monkeypatch)
    yield renders
    renders.gate.set()
    for thread in VISITS:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in VISITS)
    VISITS.clear()


VISITS: list[threading.Thread] = []


def visit_in_thread(url: str) -> tuple[threading.Thread, dict]:
    """A visitor in a thread of its own (its own middleware chain and database connection)."""
    outcome = {}

    def visit():
        try:
            outcome["response"] = Client().get(url)
        finally:
            connection.close()

    thread = threading.Thread(target=visit)
    VISITS.append(thread)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_after_an_edit_overlapping_visitors_get_the_previous_page_while_one_renders_it(
    held_renders,
):
    seed = report_load_seed().report
    renders = held_renders
    renders.gate.set()
    assert anonymous_get(REPORT_URL)[0].status_code == 200
    Report.objects.filter(pk=seed.pk).update(title="Renamed While Visitors Read")
    pagecache.page_cache_invalidate()  # committed at once (no transaction here)
    renders.gate.clear()
    renders.started.clear()
    renders.count = 0

    rendering, rendered = visit_in_thread(REPORT_URL)
    assert renders.started.wait(timeout=10)
    overlapping, queries = anonymous_get(REPORT_URL)
    assert overlapping.status_code == 200 and queries == 0
    assert seed.title.encode() in overlapping.content  # the previous version, at once
    assert renders.count == 1

    renders.gate.set()
    rendering.join(timeout=30)
    assert b"Renamed While Visitors Read" in rendered["response"].content
    following, queries = anonymous_get(REPORT_URL)
    assert b"Renamed While Visitors Read" in following.content and queries == 0
    assert renders.count == 1


@pytest.mark.django_db(transaction=True)
def test_one_visit_after_another_always_gets_the_page_as_it_is_now():
    seed = report_load_seed().report
    for n in range(3):
        Report.objects.filter(pk=seed.pk).update(title=f"Edition {n} of the title")
        pagecache.page_cache_invalidate()
        assert f"Edition {n} of the title".encode() in anonymous_get(REPORT_URL)[0].content


def test_a_page_taken_down_leaves_no_previous_version_once_it_has_been_rendered(seed_report):
    assert anonymous_get(REPORT_URL)[0].status_code == 200
    seed_report.status = Report.Status.DRAFT
    seed_report.save()
    assert anonymous_get(REPORT_URL)[0].status_code == 404  # rendered: the stored page goes
    # Whoever renders it next, a visitor meanwhile gets no previous version to fall back on.
    key = pagecache.page_key(RequestFactory().get(REPORT_URL))
    with recomputing(key, 30) as rendering:
        assert rendering is True
        assert anonymous_get(REPORT_URL)[0].status_code == 404

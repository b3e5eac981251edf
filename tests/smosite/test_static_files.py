"""Production's static files (whitenoise's CompressedManifestStaticFilesStorage, collected
into STATIC_ROOT): the page links its stylesheet by a name that carries the file's hash, and
whitenoise answers it with far-future, immutable caching and a compressed copy for a
browser that accepts one. A changed file gets a new name, so caching it for ten years is
safe."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.reports.conftest import seed_report  # noqa: F401

pytestmark = pytest.mark.django_db
PRODUCTION_STATIC = "whitenoise.storage.CompressedManifestStaticFilesStorage"
HASHED_BUNDLE = re.compile(r'<link rel="stylesheet" href="(/static/css/bundle\.[0-9a-f]{12}\.css)"')


@pytest.fixture(scope="module")
def production_static(tmp_path_factory):
    """Collected once for the module, from the site's own static/ (what pages link; the
    admin's and packages' files would only make compressing them take a minute)."""
    production = Path(settings.BASE_DIR, "smosite", "settings", "production.py").read_text()
    assert f'"BACKEND": "{PRODUCTION_STATIC}"' in production  # what this test stands for
    root = tmp_path_factory.mktemp("static")
    overrides = override_settings(
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PRODUCTION_STATIC}},
        STATIC_ROOT=root,
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        DEBUG=False,
    )
    with overrides:
        call_command("collectstatic", "--noinput", verbosity=0)
        yield root


def test_pages_link_the_hashed_stylesheet_and_only_it(client, seed_report, production_static):  # noqa: F811
    for url in ("/", seed_report.get_absolute_url()):
        html = client.get(url).content.decode()
        assert len(re.findall(r'rel="stylesheet"', html)) == 1, url
        assert HASHED_BUNDLE.search(html), url


def test_whitenoise_serves_it_immutable_for_ten_years_and_compressed(
    client,
    seed_report,  # noqa: F811
    production_static,
):
    href = HASHED_BUNDLE.search(client.get(seed_report.get_absolute_url()).content.decode())[1]
    collected = (production_static / href.removeprefix("/static/")).read_bytes()

    plain = client.get(href, HTTP_ACCEPT_ENCODING="")
    assert plain.status_code == 200
    assert plain["Cache-Control"] == "max-age=315360000, public, immutable"
    assert "Content-Encoding" not in plain
    assert b"".join(plain.streaming_content) == collected
    for encoding in ("br", "gzip"):
        compressed = client.get(href, HTTP_ACCEPT_ENCODING=f"{encoding}, deflate")
        assert compressed["Content-Encoding"] == encoding
        assert compressed["Vary"] == "Accept-Encoding"
        assert compressed["Cache-Control"] == plain["Cache-Control"]
        assert int(compressed["Content-Length"]) < len(collected) / 3


def test_an_unhashed_name_is_not_cached_for_long(client, production_static):
    response = client.get("/static/css/bundle.css")
    assert response.status_code == 200  # still served, for a link an old page kept
    assert "immutable" not in response["Cache-Control"]

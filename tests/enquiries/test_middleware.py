"""First-touch attribution: the campaign that brought a visitor is kept in a signed cookie,
with the landing page and referrer, and a later campaign does not overwrite it. A visit
without a campaign writes nothing and sets no cookie."""

import json
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.models import Session

from contacts.middleware import COOKIE_NAME, first_touch, first_touch_stored
from contacts.models import UTM_FIELDS
from reports.services.seed import DEFAULT_SEED, report_load_seed

pytestmark = pytest.mark.django_db

REPORT_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"
# The campaign on the seed's own landing URL (reports/seed/report_1780960.json).
CAMPAIGN = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))["source"]["campaign"]


@pytest.fixture(autouse=True)
def _seed(db):
    report_load_seed()


def stored_touch(client, rf) -> dict | None:
    """What the site reads back from the visitor's cookie (signature checked)."""
    request = rf.get("/")
    if COOKIE_NAME in client.cookies:
        request.COOKIES[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    return first_touch_stored(request)


def test_the_seed_campaign_has_all_six_utm_parameters():
    assert set(CAMPAIGN) == set(UTM_FIELDS)


def test_campaign_landing_keeps_all_six_utm_values_with_landing_page_and_referrer(client, rf):
    landing = f"{REPORT_URL}?{urlencode(CAMPAIGN)}"
    response = client.get(landing, HTTP_REFERER="https://github.com/some/readme")
    assert response.status_code == 200
    stored = stored_touch(client, rf)
    assert {name: stored[name] for name in UTM_FIELDS} == CAMPAIGN
    assert stored["landing_page"] == landing
    assert stored["referrer"] == "https://github.com/some/readme"


def test_first_touch_wins_over_a_later_campaign(client, rf):
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}", HTTP_REFERER="https://github.com/")
    later = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}
    client.get(f"/?{urlencode(later)}", HTTP_REFERER="https://mail.example/")
    stored = stored_touch(client, rf)
    assert stored["utm_source"] == "Github" and stored["utm_campaign"] == "3514"
    assert stored["referrer"] == "https://github.com/"


def test_a_campaign_after_an_earlier_visit_that_had_none_is_the_first_touch(client, rf):
    client.get("/", HTTP_REFERER="https://www.google.com/")
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}")
    stored = stored_touch(client, rf)
    assert stored["utm_id"] == "clinical-trials-site-management-organizations"
    assert stored["landing_page"].startswith(REPORT_URL)


def test_campaign_survives_the_redirect_from_a_stale_slug(client, rf):
    response = client.get(f"/old-smo-market-r1780960?{urlencode(CAMPAIGN)}", follow=True)
    assert response.redirect_chain[0][1] == 301
    stored = stored_touch(client, rf)
    assert {name: stored[name] for name in UTM_FIELDS} == CAMPAIGN


def test_first_touch_gives_leads_the_stored_attribution(client, rf):
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}", HTTP_REFERER="https://github.com/")
    request = rf.get("/enquiry/request-sample/1780960")
    request.COOKIES[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    touch = first_touch(request)
    assert {name: touch[name] for name in UTM_FIELDS} == CAMPAIGN
    assert touch["referrer"] == "https://github.com/"
    assert touch["landing_page"].startswith(f"{REPORT_URL}?utm_campaign=3514")


def test_static_files_and_health_checks_are_not_a_first_touch(client):
    client.get("/healthz?utm_source=monitor")
    assert COOKIE_NAME not in client.cookies


@pytest.mark.parametrize("path", ["/", REPORT_URL, "/?q=clinical", "/privacy"])
def test_a_visit_without_a_campaign_writes_nothing_and_sets_no_cookie(client, path):
    for _ in range(2):  # the first answer rendered, the second perhaps from the page cache
        response = client.get(path, HTTP_REFERER="https://www.google.com/")
        assert response.status_code == 200
        assert response.cookies == {} and "Set-Cookie" not in response.headers
    assert Session.objects.count() == 0


def test_a_campaign_landing_sets_a_signed_cookie_and_no_session(client):
    response = client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}")
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["max-age"] == 14 * 86400
    assert Session.objects.count() == 0


def test_a_forged_or_tampered_cookie_is_ignored(client, rf):
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}")
    genuine = client.cookies[COOKIE_NAME].value
    client.cookies[COOKIE_NAME] = genuine.replace(genuine[2], "A" if genuine[2] != "A" else "B", 1)
    assert stored_touch(client, rf) is None
    request = rf.post("/enquiry/request-sample/1780960")
    request.COOKIES[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    assert first_touch(request)["utm_source"] == ""


def test_a_new_campaign_is_remembered_when_the_cookie_was_forged(client, rf):
    client.cookies[COOKIE_NAME] = "forged"
    client.get(f"/?{urlencode(CAMPAIGN)}")
    assert stored_touch(client, rf)["utm_campaign"] == "3514"

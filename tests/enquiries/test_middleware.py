"""First-touch attribution: the campaign that brought a visitor is kept in the session, with
the landing page and referrer, and a later campaign does not overwrite it."""

import json
from urllib.parse import urlencode

import pytest

from enquiries.middleware import SESSION_KEY, first_touch
from enquiries.models import UTM_FIELDS
from reports.services.seed import DEFAULT_SEED, report_load_seed

pytestmark = pytest.mark.django_db

REPORT_URL = "/global-clinical-trials-site-management-organizations-market-r1780960"
# The campaign on the seed's own landing URL (reports/seed/report_1780960.json).
CAMPAIGN = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))["source"]["campaign"]


@pytest.fixture(autouse=True)
def _seed(db):
    report_load_seed()


def test_the_seed_campaign_has_all_six_utm_parameters():
    assert set(CAMPAIGN) == set(UTM_FIELDS)


def test_campaign_landing_keeps_all_six_utm_values_with_landing_page_and_referrer(client):
    landing = f"{REPORT_URL}?{urlencode(CAMPAIGN)}"
    response = client.get(landing, HTTP_REFERER="https://github.com/some/readme")
    assert response.status_code == 200
    stored = client.session[SESSION_KEY]
    assert {name: stored[name] for name in UTM_FIELDS} == CAMPAIGN
    assert stored["landing_page"] == landing
    assert stored["referrer"] == "https://github.com/some/readme"


def test_first_touch_wins_over_a_later_campaign(client):
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}", HTTP_REFERER="https://github.com/")
    later = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"}
    client.get(f"/?{urlencode(later)}", HTTP_REFERER="https://mail.example/")
    stored = client.session[SESSION_KEY]
    assert stored["utm_source"] == "Github" and stored["utm_campaign"] == "3514"
    assert stored["referrer"] == "https://github.com/"


def test_a_campaign_replaces_an_earlier_visit_that_had_none(client):
    client.get("/", HTTP_REFERER="https://www.google.com/")
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}")
    stored = client.session[SESSION_KEY]
    assert stored["utm_id"] == "clinical-trials-site-management-organizations"
    assert stored["landing_page"].startswith(REPORT_URL)


def test_campaign_survives_the_redirect_from_a_stale_slug(client):
    response = client.get(f"/old-smo-market-r1780960?{urlencode(CAMPAIGN)}", follow=True)
    assert response.redirect_chain[0][1] == 301
    stored = client.session[SESSION_KEY]
    assert {name: stored[name] for name in UTM_FIELDS} == CAMPAIGN


def test_first_touch_gives_leads_the_stored_attribution(client, rf):
    client.get(f"{REPORT_URL}?{urlencode(CAMPAIGN)}", HTTP_REFERER="https://github.com/")
    request = rf.get("/enquiry/request-sample/1780960")
    request.session = client.session
    touch = first_touch(request)
    assert {name: touch[name] for name in UTM_FIELDS} == CAMPAIGN
    assert touch["referrer"] == "https://github.com/"
    assert touch["landing_page"].startswith(f"{REPORT_URL}?utm_campaign=3514")


def test_static_files_and_health_checks_are_not_a_first_touch(client):
    client.get("/healthz?utm_source=monitor")
    assert SESSION_KEY not in client.session

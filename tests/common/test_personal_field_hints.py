"""Every personal field of the public forms carries autofill and keyboard hints, so a phone
fills the visitor's saved details and shows the right keyboard (issue 26)."""

import re

import pytest

from common.forms import PERSONAL_FIELD_HINTS
from reports.services.seed import report_load_seed

pytestmark = pytest.mark.django_db

REPORT_PATH = "/global-clinical-trials-site-management-organizations-market-r1780960"
PAGES_AND_FIELDS = [
    (
        "/enquiry/request-sample/1780960",
        ["name", "email", "company", "job_title", "country", "phone"],
    ),
    (
        "/enquiry/pre-order-enquiry/1780960",
        ["name", "email", "company", "job_title", "country", "phone"],
    ),
    ("/purchase/1780960", ["email", "name", "company", "vat_id"]),
    ("/account/sign-in", ["email"]),
    (REPORT_PATH, ["email"]),  # the alert form in the top box
]


@pytest.fixture
def seed():
    return report_load_seed().report


def field_tag(html: str, name: str) -> str:
    match = re.search(rf'<(?:input|select)[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no field named {name}"
    return match.group(0)


@pytest.mark.parametrize(("path", "fields"), PAGES_AND_FIELDS)
def test_personal_fields_carry_autocomplete_and_inputmode(client, settings, seed, path, fields):
    settings.STRIPE_SECRET_KEY = "sk_test_hints"  # the purchase form shows when Stripe is set up
    html = client.get(path).content.decode()
    for name in fields:
        tag = field_tag(html, name)
        for attribute, value in PERSONAL_FIELD_HINTS[name].items():
            assert f'{attribute}="{value}"' in tag, f"{path}: {name} lacks {attribute}={value}"
        if not tag.startswith("<select"):
            assert "inputmode=" in tag


def test_the_hints_name_the_standard_autofill_tokens():
    tokens = {name: hints["autocomplete"] for name, hints in PERSONAL_FIELD_HINTS.items()}
    assert tokens == {
        "name": "name",
        "email": "email",
        "company": "organization",
        "job_title": "organization-title",
        "country": "country",
        "phone": "tel",
        "vat_id": "on",
    }
    assert PERSONAL_FIELD_HINTS["phone"]["inputmode"] == "tel"
    assert PERSONAL_FIELD_HINTS["email"]["inputmode"] == "email"

"""Buyers sign in with an emailed one-time link: the request through the test client, the
link job and the email on the real worker and SMTP server, the link opened and used."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from sesame import tokens_v2
from sesame.utils import get_token

from accounts import services
from accounts.models import SignInRequest
from contacts.models import OutboundEmail
from reports.services.seed import report_load_seed
from tests.reports.orders_support import fulfilled_order, path_of

pytestmark = pytest.mark.django_db(transaction=True)
BUYER = "jane.doe@acme-pharma.example"


@pytest.fixture
def report():
    return report_load_seed().report


def sign_in_link(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return path_of(re.search(r"https?://\S+/account/sign-in/confirm\?token=\S+", body).group(0))


def ask_for_link(client, email):
    return client.post("/account/sign-in", {"email": email})


def test_a_buyer_signs_in_with_the_emailed_link_once(
    client, django_user_model, report, celery_worker, mailbox
):
    order, _ = fulfilled_order(report, email=BUYER)
    response = ask_for_link(client, "Jane.Doe@Acme-Pharma.example ")
    assert response.status_code == 303
    assert response["Location"] == "/account/sign-in/sent"
    link = sign_in_link(mailbox.wait_for(1, to=BUYER)[0])
    stored = OutboundEmail.objects.get(template=services.EMAIL_TEMPLATE)
    assert "token=[redacted]" in stored.body_text  # the mail log holds no working link

    opened = client.get(link)  # what a mail scanner does: no session comes of it
    assert opened.status_code == 200
    assert b"Sign in" in opened.content
    assert "_auth_user_id" not in client.session
    assert client.get("/account/reports").status_code == 302

    token = link.split("token=", 1)[1]
    signed_in = client.post("/account/sign-in/confirm", {"token": token})
    assert signed_in.status_code == 302
    page = client.get("/account/reports")
    assert page.status_code == 200
    assert order.reference in page.content.decode()
    assert client.session.get_expiry_age() <= 24 * 3600

    again = client.__class__()
    assert again.post("/account/sign-in/confirm", {"token": token}).status_code == 410
    assert again.get(link).status_code == 410
    assert "_auth_user_id" not in again.session

    client.post("/account/sign-out")
    assert client.get("/account/reports").status_code == 302


def test_an_expired_link_is_refused(client, report, monkeypatch, settings):
    fulfilled_order(report, email=BUYER)
    user = services.buyer_user_get_or_create(email=BUYER)
    made_at = time.time() - settings.ACCOUNT_LINK_MINUTES * 60 - 1
    with monkeypatch.context() as patch:
        patch.setattr(tokens_v2.time, "time", lambda: made_at)
        old = get_token(user)
    fresh = get_token(user)
    assert client.get(f"/account/sign-in/confirm?token={old}").status_code == 410
    assert client.post("/account/sign-in/confirm", {"token": old}).status_code == 410
    assert "_auth_user_id" not in client.session
    assert client.get(f"/account/sign-in/confirm?token={fresh}").status_code == 200


def test_a_link_never_signs_in_a_staff_member(client, django_user_model):
    staff = django_user_model.objects.create_user(
        username="buyer:" + "0" * 64, email=BUYER, password="x", is_staff=True
    )
    token = get_token(staff)
    assert client.post("/account/sign-in/confirm", {"token": token}).status_code == 410
    assert "_auth_user_id" not in client.session


def test_requests_for_an_unknown_address_look_like_those_for_a_buyer(
    client, report, settings, celery_worker, mailbox
):
    settings.ACCOUNT_LINK_RATE_LIMIT_PER_IP = 100
    fulfilled_order(report, email=BUYER)
    answers = {BUYER: [], "nobody@example.com": []}
    for _ in range(20):
        for email, seen in answers.items():
            response = ask_for_link(client, email)
            seen.append((response.status_code, response.get("Location"), response.content))
    assert answers[BUYER] == answers["nobody@example.com"]
    # Both addresses met their own limit at the same request, with the same 429 page.
    statuses = [status for status, _, _ in answers[BUYER]]
    limit = settings.ACCOUNT_LINK_RATE_LIMIT_PER_EMAIL
    assert statuses == [303] * limit + [429] * (20 - limit)
    sent = mailbox.wait_for(limit, to=BUYER)
    assert len(sent) == limit
    assert not mailbox.to("nobody@example.com")
    # The handled requests keep no address.
    celery_worker.quiesce()
    assert set(SignInRequest.objects.values_list("email", flat=True)) == {""}
    assert SignInRequest.objects.count() == 2 * limit
    assert not get_user_model().objects.filter(email="nobody@example.com").exists()


def test_requests_are_limited_per_network(client, settings):
    settings.ACCOUNT_LINK_RATE_LIMIT_PER_IP = 3
    statuses = [ask_for_link(client, f"person{i}@example.com").status_code for i in range(5)]
    assert statuses == [303, 303, 303, 429, 429]

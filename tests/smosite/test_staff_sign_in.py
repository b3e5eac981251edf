"""Staff sign-in: a lockout after repeated failures (per username and address, and per
address; lifted from admin or the command line; behind nginx, the client's address), and a
second factor (TOTP) that staff enrol in with a QR code the site draws. Codes are real TOTP
codes computed from the device's key."""

import io
import re
import time
from datetime import timedelta
from unittest import mock

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from smosite.staff.two_factor import enrolment_link_create
from tests.reports.orders_support import path_of
from tests.support.nginx import Nginx, deploy_trusted_proxy_count

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery"


STAFF_EMAIL = "anna@reliable-research.example"
KEY_SHOWN = 'class="otp-secret"'  # the enrolment page's key for typing in, and its QR code
QR_SHOWN = 'aria-label="QR code'


@pytest.fixture
def staff(db):
    return User.objects.create_user(
        "anna", password=PASSWORD, is_staff=True, is_superuser=True, email=STAFF_EMAIL
    )


def sign_in(client, username="anna", password=PASSWORD, address="198.51.100.1", **extra):
    data = {"username": username, "password": password, "next": "/admin/", **extra}
    return client.post(LOGIN, data, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def code_for(device: TOTPDevice, *, offset_steps: int = 0) -> str:
    token = totp(device.bin_key, device.step, device.t0, device.digits, drift=offset_steps)
    return f"{token:0{device.digits}d}"


def wait_out_the_throttle(device: TOTPDevice):
    """After a wrong code, django-otp refuses codes for a while (doubling each time); moving
    the last failure into the past stands for waiting that long."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(hours=1)
    )


# --- Lockout ----------------------------------------------------------------------------------


def test_five_failures_lock_the_account_with_a_clear_message(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert sign_in(client, password="wrong").status_code == 200
    locked = sign_in(client, password="wrong")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed sign-ins" in html and "Try again in 30 minutes" in html
    assert "axes_reset_username" in html
    # Even the right password is refused now.
    assert sign_in(client).status_code == 429 and not signed_in(client)


def test_failures_from_one_address_do_not_lock_the_user_out_at_another(client, staff):
    """Anyone could lock any staff member out by typing their name with a wrong password:
    failures now lock the username only from the address they came from."""
    for _ in range(5):
        sign_in(client, password="wrong", address="203.0.113.9")
    assert sign_in(Client(), address="203.0.113.9").status_code == 429  # locked there
    assert sign_in(Client(), address="192.0.2.200").status_code == 302  # not here
    # Four failures from each of many addresses lock nothing either.
    for n in range(4):
        for _ in range(4):
            sign_in(Client(), password="wrong", address=f"198.51.100.{n}")
    assert sign_in(Client(), address="192.0.2.201").status_code == 302


def test_an_address_failing_for_many_usernames_is_locked_for_every_username(
    client, staff, settings
):
    settings.ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for n in range(7):  # each username fails less than its own limit
        sign_in(client, username=f"guess{n}", password="wrong", address="2001:db8:7:7::1")
    assert sign_in(Client(), address="2001:db8:7:7::1").status_code == 302  # 7 < 8
    Client().post("/admin/logout/")
    sign_in(client, username="guess7", password="wrong", address="2001:db8:7:7::1")
    # Another address in the same IPv6 /64 is the same client.
    assert sign_in(Client(), address="2001:db8:7:7::beef").status_code == 429
    assert sign_in(Client(), address="2001:db8:7:8::1").status_code == 302


def test_a_sign_in_between_guesses_does_not_reset_the_address_count(client, staff, settings):
    """Someone with an account of their own signing in between guesses at others' clears
    their own failures only."""
    settings.ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for n in range(7):
        sign_in(client, username=f"colleague{n}", password="wrong", address="192.0.2.77")
    assert sign_in(Client(), address="192.0.2.77").status_code == 302  # anna's own account
    sign_in(Client(), username="colleague7", password="wrong", address="192.0.2.77")
    assert sign_in(Client(), address="192.0.2.77").status_code == 429


def test_an_administrator_unlocks_from_the_admin(client, staff):
    for _ in range(5):
        sign_in(client, password="wrong")
    admin = User.objects.create_superuser("root", password="x", email="root@example.com")
    root = Client()
    root.force_login(admin)
    attempt = AccessAttempt.objects.get(username="anna")
    listing = root.get("/admin/axes/accessattempt/").content.decode()
    assert "anna" in listing
    root.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert not AccessAttempt.objects.exists()
    assert sign_in(client).status_code == 302 and signed_in(client)


def test_an_administrator_unlocks_from_the_command_line(client, staff):
    for _ in range(5):
        sign_in(client, password="wrong")
    call_command("axes_reset_username", "anna")
    assert sign_in(client).status_code == 302 and signed_in(client)


def test_a_success_clears_earlier_failures(client, staff):
    for _ in range(4):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302
    client.post("/admin/logout/")
    for _ in range(4):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 302


@pytest.mark.parametrize("username", ["an\x00na", "x" * 10_000, "anna\r\nBcc: x@evil.example"])
def test_hostile_usernames_are_refused_without_a_server_error(client, staff, username):
    assert sign_in(client, username=username).status_code == 200
    assert not signed_in(client)


# --- Second factor ---------------------------------------------------------------------------


@pytest.fixture
def smtp(settings, smtp_server, mailbox):
    """Emails from this process go over real SMTP to the test server (aiosmtpd)."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_server.port, "timeout": 5},
        }
    }
    return mailbox


def set_up_link_in(message) -> str:
    """The path of the set-up link in an email."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/admin/two-factor/enrol/\S+/)", body).group(1)


def enrolment_page(client) -> str:
    page = client.get("/admin/two-factor/")
    assert page.status_code == 200
    return page.content.decode()


def test_staff_without_an_authenticator_are_emailed_a_link_and_enrol_with_it(
    client, staff, settings, smtp
):
    settings.ADMIN_REQUIRE_2FA = True
    assert sign_in(client).status_code == 302
    [email] = smtp.wait_for(1)
    assert email["To"] == STAFF_EMAIL and "two-factor" in email["Subject"]
    assert "If you did not just sign in" in email.get_body().get_content()
    index = client.get("/admin/")
    assert index.status_code == 302 and index["Location"] == "/admin/two-factor/"
    assert client.get("/admin/orders/order/").status_code == 302

    waiting = enrolment_page(client)
    assert "We emailed a link" in waiting and "a•••@reliable-research.example" in waiting
    assert KEY_SHOWN not in waiting and QR_SHOWN not in waiting  # no key without the link
    key_emailed_for = TOTPDevice.objects.get(user=staff, confirmed=False).key

    opened = client.get(set_up_link_in(email))
    assert opened.status_code == 302 and opened["Location"] == "/admin/two-factor/"
    html = enrolment_page(client)
    assert '<svg role="img" aria-label="QR code' in html  # drawn by the site, inline
    assert "<img" not in html.split('id="content-main"')[1]  # no image from elsewhere
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert device.key != key_emailed_for  # opening the link replaced it: the link is spent
    secret = html.split('class="otp-secret">')[1].split("<")[0].strip()
    assert len(secret) == 32  # the base32 key, for typing in by hand

    wrong = client.post("/admin/two-factor/", {"otp_token": "000000"})
    assert "That code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    too_soon = client.post("/admin/two-factor/", {"otp_token": code_for(device)})
    assert "wait a minute" in too_soon.content.decode()

    wait_out_the_throttle(device)
    done = client.post("/admin/two-factor/", {"otp_token": code_for(device)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert signed_in(client)


def test_the_password_alone_cannot_set_up_an_authenticator(client, staff, settings, smtp):
    """Whoever knows the password gets the page that says a link was emailed, never a key;
    a code posted without the link confirms nothing, and a made-up link opens nothing."""
    settings.ADMIN_REQUIRE_2FA = True
    sign_in(client, address="203.0.113.66")
    html = enrolment_page(client)
    assert KEY_SHOWN not in html and QR_SHOWN not in html
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    posted = client.post("/admin/two-factor/", {"otp_token": code_for(device)})
    assert posted.status_code == 200 and not TOTPDevice.objects.get(pk=device.pk).confirmed
    forged = client.get("/admin/two-factor/enrol/eyJ1c2VyIjoxfQ:forged:signature/")
    assert forged.status_code == 400 and "not valid" in forged.content.decode()
    assert KEY_SHOWN not in enrolment_page(client)
    assert not signed_in(client)


def test_a_link_works_once(client, staff, settings, smtp):
    settings.ADMIN_REQUIRE_2FA = True
    sign_in(client)
    link = set_up_link_in(smtp.wait_for(1)[0])
    assert client.get(link).status_code == 302
    again = Client()
    sign_in(again)
    reused = again.get(link)
    assert reused.status_code == 400 and "used already" in reused.content.decode()
    assert KEY_SHOWN not in enrolment_page(again)


def test_an_expired_link_opens_nothing(client, staff, settings, smtp):
    settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES = 60
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 3601):
        link = enrolment_link_create(user=staff)  # made an hour and a second ago
    sign_in(client)
    expired = client.get(path_of(link))
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert KEY_SHOWN not in enrolment_page(client)


def test_a_link_opened_before_signing_in_leads_through_the_sign_in(client, staff, settings, smtp):
    """Opened in a browser that isn't signed in (or by a mail scanner), the link asks for the
    password first and still works afterwards; that sign-in sends no second email."""
    settings.ADMIN_REQUIRE_2FA = True
    link = path_of(enrolment_link_create(user=staff))
    scanner = Client().get(link)
    assert scanner.status_code == 302 and scanner["Location"].startswith(LOGIN)
    response = sign_in(client, next=link)
    assert response.status_code == 302 and response["Location"] == link
    assert client.get(link)["Location"] == "/admin/two-factor/"
    assert KEY_SHOWN in enrolment_page(client)
    assert smtp.messages == []


def test_a_link_for_another_account_is_refused(client, staff, settings, smtp):
    User.objects.create_user("bob", password=PASSWORD, is_staff=True, email="bob@example.com")
    link = path_of(enrolment_link_create(user=staff))
    sign_in(client, username="bob")
    refused = client.get(link)
    assert refused.status_code == 400 and "another account" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user__username="bob", confirmed=True).exists()


def test_a_new_link_is_emailed_on_request_at_most_once_a_minute(client, staff, settings, smtp):
    """Without the requirement staff may still turn it on, with a link too."""
    settings.ADMIN_REQUIRE_2FA = False
    sign_in(client)
    assert smtp.messages == []  # not required: nothing sent unasked
    assert "Email me a new link" in enrolment_page(client)
    sent = client.post("/admin/two-factor/", {"send_link": "1"}, follow=True)
    assert "We emailed a link" in sent.content.decode() and len(smtp.wait_for(1)) == 1
    again = client.post("/admin/two-factor/", {"send_link": "1"}, follow=True)
    assert "less than a minute ago" in again.content.decode() and len(smtp.messages) == 1
    assert client.get(set_up_link_in(smtp.messages[0])).status_code == 302
    assert KEY_SHOWN in enrolment_page(client)


def test_a_link_that_cannot_be_emailed_says_so(client, staff, settings):
    from tests.support.ports import free_port

    settings.ADMIN_REQUIRE_2FA = True
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
        }
    }
    assert sign_in(client).status_code == 302
    html = client.get("/admin/two-factor/").content.decode()
    assert "could not be emailed" in html and "ask an administrator" in html


def test_an_administrator_prints_a_link_from_the_command_line(client, staff, settings, smtp):
    out, err = io.StringIO(), io.StringIO()
    call_command("two_factor_link", "anna", stdout=out, stderr=err)
    link = path_of(out.getvalue().strip())
    assert link.startswith("/admin/two-factor/enrol/") and "works once" in err.getvalue()
    sign_in(client)
    assert client.get(link).status_code == 302 and KEY_SHOWN in enrolment_page(client)
    TOTPDevice.objects.filter(user=staff).update(confirmed=True)
    with pytest.raises(CommandError, match="already has an authenticator"):
        call_command("two_factor_link", "anna", stdout=out)
    with pytest.raises(CommandError, match="No active staff account"):
        call_command("two_factor_link", "nobody", stdout=out)


def test_a_reload_of_the_enrolment_page_keeps_the_key_being_set_up(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    link = path_of(enrolment_link_create(user=staff))
    sign_in(client)
    client.get(link)
    secret = enrolment_page(client).split(f"{KEY_SHOWN}>")[1].split("<")[0]
    assert secret.strip() and secret in enrolment_page(client)
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_staff_with_an_authenticator_sign_in_with_a_current_code(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)

    missing = sign_in(client)
    assert "Enter the six-digit code" in missing.content.decode() and not signed_in(client)
    stale = sign_in(client, otp_token=code_for(device, offset_steps=-10))
    assert "That code is not right" in stale.content.decode() and not signed_in(client)

    wait_out_the_throttle(device)
    assert sign_in(client, otp_token=code_for(device)).status_code == 302
    assert signed_in(client)


def test_an_authenticator_once_set_up_is_asked_for_even_when_not_required(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    assert "Enter the six-digit code" in sign_in(client).content.decode()
    assert sign_in(client, otp_token=code_for(device)).status_code == 302 and signed_in(client)


def test_wrong_codes_count_towards_the_lockout(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    for _ in range(4):
        sign_in(client, otp_token="123456")
    assert sign_in(client, otp_token="654321").status_code == 429
    assert sign_in(client, otp_token=code_for(device)).status_code == 429


def test_a_session_without_the_second_factor_is_sent_back_to_sign_in(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.force_login(staff)  # the password alone
    response = client.get("/admin/orders/order/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_without_the_requirement_staff_use_the_admin_with_a_password(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = False
    assert sign_in(client).status_code == 302 and signed_in(client)
    assert "Two-factor sign-in" in client.get("/admin/").content.decode()  # offered, not forced


def test_signing_out_works_before_enrolling(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    sign_in(client)
    assert client.post("/admin/logout/").status_code == 200
    assert client.get("/admin/two-factor/").status_code == 302  # to the sign-in page


# --- Behind nginx -----------------------------------------------------------------------------


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from one loopback address (Linux routes all of 127.0.0.0/8 to lo): a
    visitor at that address, as nginx sees it."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def visitor_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def sign_in_over_http(session, base: str, password: str, **headers) -> int:
    page = session.get(f"{base}{LOGIN}", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"username": "anna", "password": password, "next": "/admin/"}
    response = session.post(
        f"{base}{LOGIN}",
        {**data, "csrfmiddlewaretoken": token},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    return response.status_code


@pytest.mark.django_db(transaction=True)
def test_behind_nginx_failures_count_against_the_client_address(live_server, settings, tmp_path):
    """nginx configured as docs/deploy.md's recipe, with the TRUSTED_PROXY_COUNT it names:
    the lockout counts the visitor's own address (not nginx's, not one the visitor forged in
    X-Forwarded-For), so failures at one address lock nobody out at another."""
    settings.TRUSTED_PROXY_COUNT = deploy_trusted_proxy_count()
    User.objects.create_user("anna", password=PASSWORD, is_staff=True, is_superuser=True)
    with Nginx(int(live_server.url.rsplit(":", 1)[1]), tmp_path) as nginx:
        base = f"http://127.0.0.1:{nginx.port}"
        guesser = visitor_at("127.0.0.2")
        forged = {"X-Forwarded-For": "192.0.2.66"}
        statuses = [sign_in_over_http(guesser, base, "wrong", **forged) for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.2"}
        assert sign_in_over_http(guesser, base, PASSWORD) == 429
        assert sign_in_over_http(visitor_at("127.0.0.3"), base, PASSWORD) == 302

"""Staff sign-in: a lockout after repeated failures (per username and address, and per
address; lifted from admin or the command line; behind nginx, the client's address), and a
second factor (TOTP) that staff enrol in with a QR code the site draws. Codes are real TOTP
codes computed from the device's key."""

import re
from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.support.nginx import Nginx, deploy_trusted_proxy_count

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def staff(db):
    return User.objects.create_user("anna", password=PASSWORD, is_staff=True, is_superuser=True)


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


def test_staff_without_an_authenticator_are_sent_to_enrol_when_it_is_required(
    client, staff, settings
):
    settings.ADMIN_REQUIRE_2FA = True
    response = sign_in(client)
    assert response.status_code == 302
    index = client.get("/admin/")
    assert index.status_code == 302 and index["Location"] == "/admin/two-factor/"
    assert client.get("/admin/reports/order/").status_code == 302

    page = client.get("/admin/two-factor/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg role="img" aria-label="QR code' in html  # drawn by the site, inline
    assert "<img" not in html.split('id="content-main"')[1]  # no image from elsewhere
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
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


def test_a_reload_of_the_enrolment_page_keeps_the_key_being_set_up(client, staff, settings):
    settings.ADMIN_REQUIRE_2FA = True
    sign_in(client)
    client.get("/admin/two-factor/")
    client.get("/admin/two-factor/")
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
    response = client.get("/admin/reports/order/")
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

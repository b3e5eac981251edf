"""`manage.py site_init`, the first run of a new installation: it migrates, collects static
files, gives an empty catalogue the seed report (or imports a file), creates the first
superuser and sets up their authenticator app, and run again it finds everything done and
changes nothing."""

import base64
import io
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from reports.models import Report
from tests.support.worker import database_url

pytestmark = pytest.mark.django_db(transaction=True)
SEED_NUMBER = 1780960


def site_init(*args) -> str:
    out = io.StringIO()
    call_command("site_init", *args, "--no-input", stdout=out)
    return out.getvalue()


@pytest.fixture
def first_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "publisher")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "it@reports.example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long passphrase nobody guesses 7")


def state() -> tuple:
    users = get_user_model().objects
    return (
        sorted(Report.objects.values_list("number", flat=True)),
        sorted(users.values_list("username", "is_superuser", "password")),
        TOTPDevice.objects.count(),
    )


def test_a_first_run_makes_the_site_ready_and_a_second_changes_nothing(first_admin, settings):
    settings.ADMIN_REQUIRE_2FA = True  # as in production
    first = site_init()
    assert Report.objects.filter(number=SEED_NUMBER, status="published").exists()
    admin = get_user_model().objects.get(username="publisher")
    assert admin.is_superuser and admin.is_staff and admin.email == "it@reports.example.com"
    assert admin.check_password("a long passphrase nobody guesses 7")
    assert (settings.STATIC_ROOT / "admin" / "css" / "base.css").exists()
    assert "created superuser publisher" in first
    assert "publisher has no authenticator app yet" in first and "site_init (it asks)" in first
    after_first = state()

    second = site_init()
    assert state() == after_first
    assert "report(s) already; nothing loaded" in second
    assert "superuser publisher exists; none created" in second


def test_a_file_is_imported_instead_of_the_seed(first_admin, tmp_path):
    catalogue = tmp_path / "catalogue.jsonl"
    call_command("make_demo_catalogue", count=2, output=catalogue, stdout=io.StringIO())
    output = site_init("--import", str(catalogue))
    assert Report.objects.count() == 2 and not Report.objects.filter(number=SEED_NUMBER).exists()
    assert "2 created" in output
    site_init("--import", str(catalogue))  # again: updated in place, nothing added
    assert Report.objects.count() == 2


def test_without_a_terminal_or_the_variables_it_says_what_to_set_and_creates_nobody(monkeypatch):
    for name in (
        "DJANGO_SUPERUSER_USERNAME",
        "DJANGO_SUPERUSER_EMAIL",
        "DJANGO_SUPERUSER_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CommandError, match="set DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL"):
        site_init("--no-seed")
    assert not get_user_model().objects.exists()


def test_a_weak_password_from_the_environment_is_refused(first_admin, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "publisher")
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD: .*too similar"):
        site_init("--no-seed")
    assert not get_user_model().objects.exists()


class Terminal:
    """A command on a real pseudo-terminal, as an operator types into it over SSH."""

    def __init__(self, command, env):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=settings.BASE_DIR,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.seen = ""
        self.position = 0  # each expectation reads on from the last one's match

    def expect(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while not (match := re.compile(pattern).search(self.seen, self.position)):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.master], [], [], remaining)[0]:
                raise AssertionError(f"no {pattern!r} in:\n{self.seen[-3000:]}")
            try:
                self.seen += os.read(self.master, 65536).decode(errors="replace")
            except OSError:  # the command ended
                raise AssertionError(f"no {pattern!r} in:\n{self.seen[-3000:]}") from None
        self.position = match.end()
        return match

    def type(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\r")

    def close(self) -> int:
        """The command's exit status; one still waiting for input is ended."""
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        os.close(self.master)
        return code


def test_on_a_terminal_it_sets_up_the_administrators_authenticator_app(first_admin):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smosite.settings.test",
           "DATABASE_URL": database_url(), "ADMIN_REQUIRE_2FA": "1", "TERM": "xterm"}  # fmt: skip
    terminal = Terminal([sys.executable, "manage.py", "site_init", "--no-seed"], env)
    try:
        key = terminal.expect(r"type this key into it: ([A-Z2-7 ]+)\r?\n").group(1)
        terminal.expect(r"Six-digit code from the app")
        assert "█" in terminal.seen  # the QR code, drawn in the terminal
        secret = bytes.fromhex(TOTPDevice.objects.get().key)
        assert key.replace(" ", "") == base64.b32encode(secret).decode()
        terminal.type("000000" if TOTP(secret).token() != 0 else "111111")  # a wrong code first
        terminal.expect(r"not right")
        terminal.expect(r"Six-digit code from the app", timeout=30)
        terminal.type(f"{TOTP(secret).token():06d}")
        terminal.expect(r"publisher signs in with this app from now on")
    finally:
        code = terminal.close()
    assert code == 0, terminal.seen[-3000:]
    device = TOTPDevice.objects.get(user__username="publisher")
    assert device.confirmed

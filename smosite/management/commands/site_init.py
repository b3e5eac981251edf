"""manage.py site_init: what a new installation needs before its first start, safe to run
again (each step finds its work done and says so). On a server: `sudo smosite manage site_init`.

1. Migrate the database, and collect the static files (`--skip-static` where an image
   collected them when it was built).
2. Give an empty catalogue its content: the seed report (1780960), or `--import FILE`
   (JSON Lines or CSV, docs/import-format.md; a file is imported on every run, updating in
   place what it already imported).
3. Create the first superuser when there is none: from DJANGO_SUPERUSER_USERNAME,
   DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD (Django's own variables), or by asking
   on a terminal.
4. Production asks every staff sign-in for a code from an authenticator app (TOTP,
   ADMIN_REQUIRE_2FA). On a terminal, set up the superuser's app here: scan the QR code it
   prints, type one code. Otherwise, say how.

It calls the apps' own commands (migrate, collectstatic, load_seed_report, import_reports,
createsuperuser), so it knows nothing of their insides."""

import base64
import io
import os
import sys
import time
from pathlib import Path

import qrcode
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from smosite.staff.forms import confirmed_device
from smosite.staff.two_factor import pending_device

CODE_ATTEMPTS = 3


class Command(BaseCommand):
    help = (
        "First run of a new installation, safe to repeat: migrate, collect static files, load "
        "the seed report (or --import a file) into an empty catalogue, create the first "
        "superuser (from DJANGO_SUPERUSER_* or by asking) and set up their authenticator app."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--import", dest="import_file", type=Path, metavar="FILE",
            help="Import this catalogue file (import_reports) instead of the seed report.",
        )  # fmt: skip
        parser.add_argument(
            "--no-seed", action="store_true", help="Leave an empty catalogue empty."
        )
        parser.add_argument(
            "--skip-static", action="store_true",
            help="Don't collect static files (an image collected them when it was built).",
        )  # fmt: skip
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive",
            help="Never ask (no terminal): the superuser comes from DJANGO_SUPERUSER_*.",
        )  # fmt: skip

    def handle(self, *args, import_file, no_seed, skip_static, interactive, **options):
        self.interactive = interactive and sys.stdin.isatty()
        verbosity = options["verbosity"]
        self.heading("Database")
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
        self.say("migrated")
        self.heading("Static files")
        if skip_static:
            self.say("not collected (--skip-static)")
        else:
            call_command("collectstatic", interactive=False, verbosity=0)
            self.say(f"collected in {settings.STATIC_ROOT}")
        self.heading("Catalogue")
        self.catalogue(import_file=import_file, no_seed=no_seed)
        self.heading("The first administrator")
        user = self.superuser()
        self.heading("Two-factor sign-in")
        self.two_factor(user)
        self.heading("Ready")
        self.say(f"Admin: {settings.SITE_URL}/admin/ (user {user.get_username()})")
        self.say("Start the site: sudo systemctl start smosite.target")

    def heading(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(text))

    def say(self, text: str) -> None:
        self.stdout.write(f"  {text}")

    # --- content -------------------------------------------------------------------------

    def catalogue(self, *, import_file: Path | None, no_seed: bool) -> None:
        if import_file is not None:
            call_command("import_reports", str(import_file), progress="never", stdout=self.stdout)
            return
        reports = apps.get_model("reports", "Report").objects.count()
        if reports:
            self.say(f"{reports:,} report(s) already; nothing loaded")
        elif no_seed:
            self.say("empty (--no-seed): import reports in admin or with import_reports")
        else:
            call_command("load_seed_report", stdout=self.stdout)

    # --- the first superuser -------------------------------------------------------------

    def superuser(self):
        users = get_user_model().objects.filter(is_superuser=True, is_active=True)
        if existing := users.order_by("pk").first():
            self.say(f"superuser {existing.get_username()} exists; none created")
            return existing
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if username and password:
            self.validate_password(username=username, password=password)
            email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
            call_command("createsuperuser", interactive=False, username=username, email=email,
                         verbosity=0)  # fmt: skip
        elif self.interactive:
            call_command("createsuperuser", interactive=True)
        else:
            raise CommandError(
                "No superuser yet, and no terminal to ask on: set DJANGO_SUPERUSER_USERNAME, "
                "DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD (sudo passes them: "
                "sudo DJANGO_SUPERUSER_USERNAME=… smosite manage site_init), or run it on a "
                "terminal. Everything before this step is done."
            )
        user = users.order_by("-pk").first()
        self.say(f"created superuser {user.get_username()}")
        return user

    def validate_password(self, *, username: str, password: str) -> None:
        """createsuperuser --noinput takes any password; the one from the environment must
        pass the same validators as one typed in."""
        model = get_user_model()
        try:
            password_validation.validate_password(password, user=model(username=username))
        except ValidationError as error:
            raise CommandError("DJANGO_SUPERUSER_PASSWORD: " + " ".join(error.messages)) from error

    # --- the authenticator app -----------------------------------------------------------

    def two_factor(self, user) -> None:
        if confirmed_device(user) is not None:
            self.say(f"{user.get_username()} signs in with an authenticator app: set up")
            return
        if not settings.ADMIN_REQUIRE_2FA:
            self.say("not required here (ADMIN_REQUIRE_2FA is off)")
            return
        if self.interactive and self.enrol(user):
            return
        self.say(
            f"{user.get_username()} has no authenticator app yet, and production asks every "
            "staff sign-in for its code. Set it up on a terminal: sudo smosite manage "
            f"site_init (it asks), or sign in at {settings.SITE_URL}/admin/ and follow "
            "Two-factor sign-in."
        )

    def enrol(self, user) -> bool:
        """The same device the admin's enrolment page makes (smosite/staff/two_factor.py),
        confirmed by one code typed here: root on the server is enough proof of who sets it
        up."""
        device = pending_device(user)
        self.say("Scan this with an authenticator app (Google Authenticator, 1Password, Aegis…):")
        self.stdout.write(qr_code_text(device.config_url))
        self.say(f"or type this key into it: {base32_key(device)}")
        for _attempt in range(CODE_ATTEMPTS):
            code = input("  Six-digit code from the app (empty to do it later): ").strip()
            if not code:
                break
            wait_out_throttle(device)
            if device.verify_token(code):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                self.say(f"{user.get_username()} signs in with this app from now on: set up")
                return True
            self.say("That code is not right (or has expired); try the current one.")
        return False


def wait_out_throttle(device) -> None:
    """After a wrong code django-otp refuses every code for a second, then two, four…
    (throttling against guessing); someone typing at a terminal waits that out rather than
    being told a right code is wrong."""
    allowed, details = device.verify_is_allowed()
    if not allowed and details.get("locked_until"):
        time.sleep(max(0.0, (details["locked_until"] - timezone.now()).total_seconds()))


def qr_code_text(data: str) -> str:
    """The QR code in block characters, light on dark as most terminals show text."""
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def base32_key(device) -> str:
    key = base64.b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))

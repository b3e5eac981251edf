"""`manage.py two_factor_link <username>`: print a one-time link that sets up the staff
member's first authenticator app, for an administrator to hand over when email is not an
option (smosite/staff/two_factor.py). The person still signs in with their password to use it."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from smosite.staff.two_factor import EnrolmentLinkError, enrolment_link_create, is_staff_member


class Command(BaseCommand):
    help = "Print a one-time link that sets up a staff member's first authenticator app."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username})
        user = user.first()
        if user is None or not is_staff_member(user):
            raise CommandError(f"No active staff account is called {username!r}.")
        try:
            link = enrolment_link_create(user=user)
        except EnrolmentLinkError as error:
            raise CommandError(str(error)) from error
        minutes = settings.ADMIN_2FA_ENROLMENT_LINK_MINUTES
        self.stdout.write(link)
        self.stderr.write(
            f"Give this link to {username} only. It works once, within {minutes} minutes, in "
            "a browser signed in with their password."
        )

"""How django-axes counts failed admin sign-ins: per (username, address) pair, and per address.

Counting per username from any address let anyone lock any staff member out of the admin,
again and again, by typing their name with a wrong password. Here failures lock a username
only from the address they came from (ADMIN_LOGIN_FAILURE_LIMIT): the person signs in from
their own address as usual. An address that fails for many usernames (a guesser going
through a list) is locked for every username (ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT, higher: a
whole office shares one address). Behind a proxy the address is the client's
(TRUSTED_PROXY_COUNT, common/net.py); an IPv6 client counts by its /64.
https://django-axes.readthedocs.io/en/latest/5_customization.html#customizing-handlers"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum

from common.net import client_rate_limit_key
from common.text import control_characters_strip


def client_address(request) -> str:
    """The address failures are counted against: the client behind TRUSTED_PROXY_COUNT
    proxies, an IPv6 client by its /64 (it holds the whole network). "0.0.0.0" when the
    address is unusable, so garbage shares one counter."""
    key = client_rate_limit_key(request)
    return "0.0.0.0" if key == "unknown" else key  # noqa: S104 - a counter key, not a bind


def username(request, credentials) -> str:
    """The username as typed, without control characters (a NUL would reach PostgreSQL)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    value = (credentials or {}).get(field) or request.POST.get(field) or ""
    return control_characters_strip(str(value))[:150]


class StaffLockoutHandler(AxesDatabaseHandler):
    """axes' database handler, with the two counts above. axes compares one number with one
    limit (AXES_FAILURE_LIMIT, the pair's), so an address past its own limit reports the
    pair's limit."""

    def get_failures(self, request, credentials=None) -> int:
        pair, address = self._attempts(request, credentials)
        failures = _failures(pair)
        if _failures(address) >= settings.ADMIN_LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures

    def reset_user_attempts(self, request, credentials=None) -> int:
        """A sign-in clears that person's failures from that address, not the address's
        failures for other usernames: someone with an account of their own must not reset
        their guesses at a colleague's password by signing in between them."""
        pair, _address = self._attempts(request, credentials)
        count, _ = pair.delete()
        return count

    @staticmethod
    def _attempts(request, credentials):
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        address = recent.filter(ip_address=request.axes_ip_address)
        pair = address.filter(username=get_client_username(request, credentials))
        return pair, address


def _failures(attempts) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0

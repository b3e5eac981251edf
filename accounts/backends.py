"""The authentication backend behind buyers' sign-in links (django-sesame tokens).

It accepts buyer accounts only (`accounts.services.BUYER_PREFIX` usernames, never staff or
superusers), so a sign-in link can never open a staff session, whatever email a staff
member shares with a buyer. https://django-sesame.readthedocs.io/en/stable/topics.html"""

from django.contrib.auth.backends import ModelBackend
from sesame.backends import SesameBackendMixin

BUYER_PREFIX = "buyer:"


def is_buyer(user) -> bool:
    return bool(
        user is not None
        and user.username.startswith(BUYER_PREFIX)
        and not user.is_staff
        and not user.is_superuser
    )


class BuyerTokenBackend(SesameBackendMixin, ModelBackend):
    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if is_buyer(user) else None

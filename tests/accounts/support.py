"""Signing a test client in as a buyer, the way the link does (the token's POST)."""

from sesame.utils import get_token

from accounts import services


def signed_in(client, email: str):
    user = services.buyer_user_get_or_create(email=email)
    response = client.post("/account/sign-in/confirm", {"token": get_token(user)})
    assert response.status_code == 302, response.content[:500]
    return client

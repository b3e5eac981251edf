"""Replacing the webhook signing secret without refusing a single event: STRIPE_WEBHOOK_SECRET
lists the new and the old secret during the change. Real signature verification (stripe-python's
`WebhookSignature`) on headers built as Stripe builds them."""

import pytest

from orders.models import StripeEvent
from tests.reports.orders_support import order_started

pytestmark = pytest.mark.django_db

OLD = "whsec_old_secret_being_retired"
NEW = "whsec_new_secret_taking_over"


@pytest.fixture
def completed_event(client, stripe, report_on_sale):
    order = order_started(client, report_on_sale, stripe)
    return stripe.session_pay(order.stripe_session_id, deliver=False)


def post_signed(client, stripe, event, **signing):
    body, _ = stripe.signed_request(event)
    header = stripe.signature_header(body, **signing)
    return client.post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


def test_during_the_change_events_signed_with_either_secret_are_accepted(
    client, stripe, completed_event, settings
):
    settings.STRIPE_WEBHOOK_SECRET = f"{NEW}, {OLD}"
    assert post_signed(client, stripe, completed_event, secret=OLD).status_code == 200
    assert post_signed(client, stripe, completed_event, secret=NEW).status_code == 200
    assert StripeEvent.objects.filter(stripe_id=completed_event["id"]).count() == 1


def test_a_secret_that_is_not_listed_is_refused_during_the_change(
    client, stripe, completed_event, settings
):
    settings.STRIPE_WEBHOOK_SECRET = f"{NEW},{OLD}"
    response = post_signed(client, stripe, completed_event, secret="whsec_someone_else")
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_after_the_change_the_old_secret_is_refused(client, stripe, completed_event, settings):
    settings.STRIPE_WEBHOOK_SECRET = NEW
    assert post_signed(client, stripe, completed_event, secret=OLD).status_code == 400
    assert post_signed(client, stripe, completed_event, secret=NEW).status_code == 200


@pytest.mark.parametrize("configured", [NEW, OLD, f"{NEW},{OLD}"])
def test_a_header_signed_with_both_secrets_passes_whichever_is_configured(
    client, stripe, completed_event, settings, configured
):
    """Stripe's "roll secret" signs each event with the old and the new secret until the old
    one expires, so web servers still on the old setting keep accepting events."""
    settings.STRIPE_WEBHOOK_SECRET = configured
    response = post_signed(client, stripe, completed_event, secrets=[NEW, OLD])
    assert response.status_code == 200


def test_a_stale_signature_is_refused_with_either_secret(client, stripe, completed_event, settings):
    settings.STRIPE_WEBHOOK_SECRET = f"{NEW},{OLD}"
    for secret in (NEW, OLD):
        stale = post_signed(client, stripe, completed_event, secret=secret, timestamp=1)
        assert stale.status_code == 400
    assert not StripeEvent.objects.exists()

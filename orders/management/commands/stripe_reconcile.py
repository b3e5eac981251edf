from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.services.reconcile import stripe_reconcile
from orders.services.stripe_client import StripeNotConfigured, StripeUnavailable


class Command(BaseCommand):
    help = (
        "Ask Stripe for recent Checkout Sessions, refunds and disputes and bring our orders in "
        "step: fulfil paid ones never fulfilled (after a webhook outage), expire expired ones, "
        "record refunds and disputes, fulfil or cancel sent invoices paid or voided. Safe to "
        "run any time; beat runs it on a schedule."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=int,
            default=settings.STRIPE_RECONCILE_HOURS,
            help="How far back to look (default STRIPE_RECONCILE_HOURS, 72).",
        )

    def handle(self, *args, hours, **options):
        try:
            lines = stripe_reconcile(hours=hours)
        except (StripeNotConfigured, StripeUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        for line in lines:
            self.stdout.write(
                f"{line.kind:<8} {line.stripe_id}  {line.reference:<18} {line.stripe_state}  "
                f"order={line.order_status}  {line.action}"
            )
        kinds = Counter(line.kind for line in lines)
        acted = sum(1 for line in lines if line.acted)
        if kinds["invoice"]:
            self.stdout.write(f"{kinds['invoice']} sent invoice(s) still open here checked.")
        self.stdout.write(
            self.style.SUCCESS(
                f"{kinds['session']} session(s), {kinds['refund']} refund(s) and "
                f"{kinds['dispute']} dispute(s) checked; {acted} order(s) updated."
            )
        )

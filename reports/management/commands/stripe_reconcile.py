from django.core.management.base import BaseCommand, CommandError

from reports.services.reconcile import stripe_reconcile
from reports.services.stripe_client import StripeNotConfigured, StripeUnavailable


class Command(BaseCommand):
    help = (
        "List recent Stripe Checkout Sessions and bring our orders in step: fulfil paid ones "
        "never fulfilled (after a webhook outage), expire expired ones. Safe to run any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours", type=int, default=72, help="How far back to look (default 72 hours)."
        )

    def handle(self, *args, hours, **options):
        try:
            lines = stripe_reconcile(hours=hours)
        except (StripeNotConfigured, StripeUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        for line in lines:
            self.stdout.write(
                f"{line.session_id}  {line.reference:<18} session={line.session_status}/"
                f"{line.payment_status}  order={line.order_status}  {line.action}"
            )
        acted = sum(1 for line in lines if line.action.startswith(("fulfil", "expire")))
        self.stdout.write(
            self.style.SUCCESS(f"{len(lines)} session(s) checked, {acted} order(s) updated.")
        )

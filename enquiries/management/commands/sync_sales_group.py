from django.core.management.base import BaseCommand

from enquiries.services.sales_group import sales_group_sync


class Command(BaseCommand):
    help = (
        'Create the "Sales" group if needed and (re)apply its permissions: see and answer '
        "leads, read the catalogue and orders, never edit reports, prices or payments. "
        "Idempotent; run after migrations that add models."
    )

    def handle(self, *args, **options):
        group = sales_group_sync()
        codenames = sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        )
        self.stdout.write(f'"{group.name}" has {len(codenames)} permissions:')
        for codename in codenames:
            self.stdout.write(f"  {codename}")

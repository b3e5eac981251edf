"""A staff member editing the catalogue, for the catalogue benchmark: every `--interval`
seconds one published report is saved through the ORM, as the admin saves it, so every
cached search and page is stale from then on (reports/receivers.py → `catalogue_changed`).

    python -m bench.churn --interval 2      # with the site's DATABASE_URL and CACHE_URL

Prints how many saves it made when it is stopped (SIGTERM)."""

import argparse
import os
import signal
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smosite.settings.production")
    import django

    django.setup()
    from reports.models import Report

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    ids = list(
        Report.objects.filter(status=Report.Status.PUBLISHED, is_demo=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    if not ids:
        sys.exit("no published demo report to save: run it on the catalogue benchmark's database")
    print("saving", flush=True)
    saves = 0
    while not stopping:
        report = Report.objects.get(pk=ids[saves % len(ids)])
        report.save(update_fields=["updated_at"])
        saves += 1
        deadline = time.monotonic() + args.interval
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.05)
    print(f"{saves} saves", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()

"""The baseline: a minimal Django project (no apps, no middleware, one view) served by the same
gunicorn command as the site, so `bench.pages` can report every page as a ratio to it."""

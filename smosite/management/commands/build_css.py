"""`manage.py build_css`: write static/css/bundle.css, Bootstrap without the rules no page
uses and the site's own static/css/site.css, minified (smosite/leancss.py). `--check` only
says whether the committed file is current."""

from django.core.management.base import BaseCommand, CommandError

from smosite import leancss


class Command(BaseCommand):
    help = "Build static/css/bundle.css: the Bootstrap CSS the templates use, and site.css."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Fail if the file is stale.")

    def handle(self, *args, check=False, **options):
        css = leancss.build()
        current = leancss.OUTPUT.read_text(encoding="utf-8") if leancss.OUTPUT.exists() else ""
        if check:
            if css != current:
                raise CommandError(f"{leancss.OUTPUT} is out of date: run `make css`.")
            self.stdout.write(f"{leancss.OUTPUT.name} is current ({len(css.encode()):,} bytes).")
            return
        leancss.OUTPUT.write_text(css, encoding="utf-8")
        self.stdout.write(f"Wrote {leancss.OUTPUT} ({len(css.encode()):,} bytes).")

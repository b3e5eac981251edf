# The two commands: `make run` (the site on an embedded default) and `make test`.
SHELL := /bin/bash
PYTHON_VERSION := $(shell cat .python-version)
PORT ?= 8000
# Links in emails and Stripe's return URLs follow the port `make run` serves on, unless
# the environment or .env sets SITE_URL.
ifeq ($(SITE_URL)$(shell grep -s '^SITE_URL=.' .env),)
RUN_SITE_URL := http://127.0.0.1:$(PORT)
endif
# The runtime folder of `make run` and `make run-prod` (SQLite, PDFs, mail, beat's schedule).
VAR_DIR := $(abspath $(or $(SMOSITE_VAR_DIR),var))
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python$(basename $(PYTHON_VERSION))
RUN := $(UV) run --frozen --no-sync
MANAGE := $(RUN) python manage.py

# Debian packages: WeasyPrint's libraries and the PDF fonts (DejaVu, Lato, Open Sans), poppler
# (pdftoppm), Chromium and Node.js (axe-core's installer, npm) for tests.
APT_RUNTIME := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
	libfontconfig1 fonts-dejavu-core fonts-lato fonts-open-sans
# What the benchmarks start beside the site: wrk drives the pages, each benchmark runs a
# redis-server of its own (so do the fault tests), pdftotext checks the stamps, and the
# downloads benchmark puts nginx in front as docs/deploy.md does (Debian's package starts no
# service where policy-rc.d forbids it; the benchmark runs its own nginx on loopback either
# way); Lighthouse audits pages in Chromium. A quick `make bench` runs in `make test`.
APT_BENCH := wrk redis-server poppler-utils nginx chromium
# The deployment tests (tests/deploy/) check deploy/ with systemd's own tools (systemd-analyze
# verify, its environment-file parser) and nginx; pg_dump comes with the PostgreSQL they use.
# rabbitmq-server: the broker restart test runs a private node of its own (its own name, ports,
# epmd and data; tests/support/rabbitmq_server.py), never the machine's RabbitMQ service.
# dovecot-imapd: the inbound-mail tests run a private Dovecot (own config, port, maildir and
# log in a temporary folder; tests/support/dovecot.py), never the machine's Dovecot service.
APT_TEST := poppler-utils chromium nodejs systemd rabbitmq-server dovecot-imapd $(APT_BENCH)

# Settings `make test` gives the suite unless the environment already sets them: this
# machine kind runs PostgreSQL and Redis on loopback (CI sets the same in .ci/run).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_CACHE_URL ?= redis://127.0.0.1:6379/14
# Test processes run side by side (pytest-xdist), each with its own database, Redis databases
# and worker; files stay together so a module's fixtures are set up once.
TEST_PROCESSES ?= 2

.PHONY: run run-prod test install system-deps system-deps-test lint migrate admin-user bench clean

system-deps:
	@bash .ci/apt-ensure $(APT_RUNTIME)

system-deps-test:
	@bash .ci/apt-ensure $(APT_RUNTIME) $(APT_TEST)

# axe-core for the browser checks (tests/browser/test_storefront_checks.py), from npm at the
# version the committed lock names; reinstalled only when the lock changes. Debian ships npm
# apart from nodejs (NodeSource's nodejs carries its own), hence the check before asking apt.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	@command -v npm >/dev/null || bash .ci/apt-ensure npm
	npm ci --prefix tests/browser --no-audit --no-fund
	@touch $@

# Lighthouse for `make bench` (bench/lighthouse.py), from npm at the version the committed
# lock names, like axe-core above; no package of it needs an install script (none may
# download a browser: the benchmark drives Debian's Chromium).
LIGHTHOUSE := bench/lighthouse/node_modules/lighthouse/package.json
$(LIGHTHOUSE): bench/lighthouse/package-lock.json
	@command -v npm >/dev/null || bash .ci/apt-ensure npm
	npm ci --prefix bench/lighthouse --no-audit --no-fund --ignore-scripts
	@touch $@

$(UV):
	@command -v python$(basename $(PYTHON_VERSION)) >/dev/null || { \
	  echo "Python $(PYTHON_VERSION) is needed (pyenv install $(PYTHON_VERSION))"; exit 1; }
	python$(basename $(PYTHON_VERSION)) -m venv .tools
	.tools/bin/pip install --quiet "uv==0.9.30"

install: $(UV)
	$(UV) sync --frozen
	@mkdir -p var

migrate: export SMOSITE_VAR_DIR := $(VAR_DIR)
migrate: install
	@mkdir -p $(VAR_DIR)
	$(MANAGE) migrate --noinput
	$(MANAGE) load_seed_report

admin-user: export SMOSITE_VAR_DIR := $(VAR_DIR)
admin-user:
	@if [ ! -s $(VAR_DIR)/admin-password.txt ]; then \
	  pw=$$($(RUN) python -c 'import secrets; print(secrets.token_urlsafe(12))'); \
	  DJANGO_SUPERUSER_PASSWORD=$$pw $(MANAGE) createsuperuser --noinput \
	    --username admin --email admin@localhost >/dev/null && \
	  echo "$$pw" > $(VAR_DIR)/admin-password.txt; fi

ifdef RUN_SITE_URL
run: export SITE_URL := $(RUN_SITE_URL)
endif
# honcho (Procfile.dev; smosite/procfile.py keeps a closed output from stopping its shutdown)
# runs web, worker and beat in the foreground: SIGINT or SIGTERM to this process group, from a
# terminal or not, stops all three. `exec` leaves no shell between make and uv that could
# ignore the signal.
run: export SMOSITE_VAR_DIR := $(VAR_DIR)
run: system-deps migrate admin-user
	@echo ""
	@echo "  Site:   http://127.0.0.1:$(PORT)/"
	@echo "  Report: http://127.0.0.1:$(PORT)/global-clinical-trials-site-management-organizations-market-r1780960"
	@echo "  Admin:  http://127.0.0.1:$(PORT)/admin/  user: admin  password: $$(cat $(VAR_DIR)/admin-password.txt)"
	@echo "  Mail:   written as .eml files to $(VAR_DIR)/mail/ (set EMAIL_URL for SMTP)"
	@echo "  Ctrl-C stops the web server, the Celery worker and beat."
	@echo ""
	@exec $(RUN) python -m smosite.procfile start --no-colour -f Procfile.dev -p $(PORT)

# The production shape on one machine (Procfile: gunicorn, a worker per queue, beat) with
# production settings: PostgreSQL, Redis, SMTP and Stripe from the environment (docs/deploy.md).
run-prod: export DJANGO_SETTINGS_MODULE := smosite.settings.production
run-prod: export SMOSITE_VAR_DIR := $(VAR_DIR)
run-prod: system-deps install
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	@exec $(RUN) python -m smosite.procfile start --no-colour -f Procfile -p $(PORT)

# The one stylesheet pages link (static/css/bundle.css, committed: the lean Bootstrap and
# static/css/site.css, minified): run after a template gains a Bootstrap class or site.css
# changes; a test fails until the file is current.
css: install
	$(MANAGE) build_css

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

test: system-deps-test install $(AXE) $(LIGHTHOUSE)
	$(RUN) ruff check .
	$(MANAGE) makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=smosite.settings.production \
	  DJANGO_SECRET_KEY=check-deploy-dummy-secret-key-0123456789-abcdefghijklmnop \
	  DJANGO_ALLOWED_HOSTS=example.com DATABASE_URL=sqlite:///var/check.sqlite3 \
	  CELERY_BROKER_URL=redis://127.0.0.1:6379/0 CACHE_URL=redis://127.0.0.1:6379/1 \
	  EMAIL_URL=smtp://127.0.0.1:25 SITE_URL=https://example.com \
	  STRIPE_SECRET_KEY=sk_live_dummy STRIPE_WEBHOOK_SECRET=whsec_dummy \
	  $(MANAGE) check --deploy --fail-level WARNING
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	  CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_REDIS_URL)} \
	  CACHE_URL=$${CACHE_URL:-$(TEST_CACHE_URL)} \
	  $(RUN) pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# Every benchmark, one table, written to docs/benchmarks.md (15 to 20 minutes on 2 cores).
# Databases are made beside DATABASE_URL's (<name>_bench_<module>); Redis, gunicorn, nginx
# (downloads), the worker, SMTP and the Stripe test server are started on free loopback ports
# and stopped at the end.
bench: install $(LIGHTHOUSE)
	@bash .ci/apt-ensure $(APT_RUNTIME) $(APT_BENCH)
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(RUN) python -m bench $(BENCH_ARGS)

clean:
	rm -rf .venv .tools var tests/browser/node_modules bench/lighthouse/node_modules

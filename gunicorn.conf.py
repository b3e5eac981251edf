"""Gunicorn's configuration (it reads ./gunicorn.conf.py by itself; the Procfile names it
too). Every value can be changed from the environment; docs/deploy.md explains each.
https://docs.gunicorn.org/en/stable/settings.html"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# Behind nginx or a load balancer on the same host: listen on loopback only.
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"
# Sync workers: each serves one request at a time. Pages answer in milliseconds and the slow
# work (PDFs, mail, Stripe events) is in Celery, so 2–4 per core is plenty.
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
# A request taking longer than this is killed (and logged) rather than holding a worker.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM, requests in flight get this long to finish before workers are stopped.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# Idle keep-alive connections from the proxy.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle each worker after this many requests (plus jitter, so they don't all restart at
# once); 0, the default, never does. A recycled worker imports the site again (about 1.5 s
# here), so at a campaign's hundreds of requests a second a small number keeps workers
# booting: at 2000, make bench saw p99 1.5 s on every page. Set it only if workers' memory
# grows, and high (50000).
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Trust X-Forwarded-* only from the proxy in front.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Access log on stdout with the request id the site answered with (X-Request-ID), so one
# request's access line and its application lines can be joined; errors on stderr.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s ua="%(a)s"'
_production = os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith("production")
if os.environ.get("LOG_FORMAT", "json" if _production else "plain") == "json":
    # The same one-object-per-line format as the site's own logs (LOG_FORMAT).
    _json = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        "json_ensure_ascii": False,
    }
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": _json},
        "handlers": {
            "access": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": []},  # the site's own LOGGING configures it
        "loggers": {
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        },
    }  # fmt: skip

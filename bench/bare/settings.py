SECRET_KEY = "bench-bare-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - a benchmark
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.urls"
DATABASES: dict = {}
USE_TZ = True

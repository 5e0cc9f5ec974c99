"""Django settings of django-oauth-toolkit as a peer in the benchmark.

Environment: BENCH_DOT_DATABASE is the path of the SQLite file and
BENCH_DOT_SECRET_KEY is Django's SECRET_KEY. Both are required.
"""

import os

from django.core.exceptions import ImproperlyConfigured


def _required(name):
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"missing environment variable {name}")
    return value


SECRET_KEY = _required("BENCH_DOT_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
    "benchpeer",
]

# The token and introspection endpoints need no sessions, CSRF or user
# authentication, so only the middleware that applies to every response
# stays.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "benchpeer.urls"
WSGI_APPLICATION = "benchpeer.wsgi.application"

# WAL lets other connections read while one writes a token, and IMMEDIATE
# transactions with a timeout make concurrent writers wait for the lock
# instead of failing with "database is locked". Both matter once gunicorn
# runs more than one worker.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _required("BENCH_DOT_DATABASE"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# Client secrets keep django-oauth-toolkit's default: hashed with Django's
# default password hasher, PBKDF2, which every Basic-authenticated request
# then verifies.
OAUTH2_PROVIDER = {
    "SCOPES": {
        "api": "Call the API",
        "introspection": "Introspect tokens",
    },
    "DEFAULT_SCOPES": ["api"],
}

# Only server errors are logged. Django logs every 4xx response as a
# warning, which under load would write a line per rejected request.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "stderr": {"class": "logging.StreamHandler"},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django.request": {"level": "ERROR"},
    },
}

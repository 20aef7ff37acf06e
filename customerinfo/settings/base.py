"""Django core settings: apps, middleware, database, templates, static files."""

import os
from typing import Literal

from .environment import BASE_DIR, ENVIRONMENT, IS_PRODUCTION, env, required

SECRET_KEY = required("SECRET_KEY", development_default="insecure-development-key-" + "x" * 40)
#: Previous keys, comma-separated (``_FILE``-able), still accepted while SECRET_KEY is rotated:
#: sessions, password-reset and invitation links and signed values made under them stay valid.
#: Django signs with SECRET_KEY alone, so a fallback can be removed once those have expired.
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG: bool = env.bool("DEBUG", default=not IS_PRODUCTION)

DATABASES = {
    "default": env.db_url_config(
        required(
            "DATABASE_URL", development_default="postgres://postgres@127.0.0.1:5432/customerinfo"
        )
    )
}
# django-tenants' backend, noting on each session the search_path it set
# (customerinfo/core/postgresql).
DATABASES["default"]["ENGINE"] = "customerinfo.core.postgresql"
# Django turns psycopg's prepared statements off (prepare_threshold None), and with it
# customerinfo.core.db.schema_cursor's. Only cursors with server-side binding can prepare, and
# the ORM's are client-side, so this enables them for schema_cursor alone.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
# Persistent connections: a sign-up request must not pay for a new PostgreSQL connection, nor
# a renewed one for meeting each shop's tables again (3.5-4 ms for its first sign-up). What a
# connection costs PostgreSQL is bounded by DATABASE_CONN_MAX_SCHEMAS, not by its age
# (docs/architecture.md, "Database connections").
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=3600)
#: A web process's connection is renewed between requests once it has served more schemas than
#: this (0: never); each schema met costs its PostgreSQL backend memory until it closes.
DATABASE_CONN_MAX_SCHEMAS: int = env.int("DATABASE_CONN_MAX_SCHEMAS", default=1000)
# No "SELECT 1" before each request's first query: after a database restart the first request
# on a stale connection fails and the connection is replaced. Tablets retry until they hear a
# 2xx, so that costs one retry, where the check would cost a round trip on every request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

REDIS_URL: str = required("REDIS_URL", development_default="redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Cache keys are shared by all tenants; django-tenants prefixes them with the schema.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        # Parallel test workers share one Redis; each keeps to its own keys.
        "KEY_PREFIX": env.str(
            "CACHE_KEY_PREFIX", default=os.environ.get("PYTEST_XDIST_WORKER", "")
        ),
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

MIDDLEWARE = [
    "customerinfo.logs.RequestContextMiddleware",
    # Under /api/: 413 for bodies over the limit, and every error in the API's JSON shape, the
    # host router's and Django's own included.
    "customerinfo.api.ApiMiddleware",
    # A tablet's sign-up is answered here, with the headers the rest of the chain would add;
    # anything else goes on down the chain (customerinfo/kiosk_lane.py).
    "customerinfo.kiosk_lane.KioskLaneMiddleware",
    # Health checks answer before host routing: Kubernetes probes use the pod IP as Host.
    "customerinfo.health.HealthCheckMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The customerinfo.middleware classes are the libraries' own (whitenoise, sessions, auth,
    # messages, HTMX), standing aside for the kiosk API, which uses none of them. CSRF stays
    # Django's own class: `check --deploy` looks for it by name, and it costs next to nothing.
    "customerinfo.middleware.WhiteNoiseMiddleware",
    "customerinfo.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "customerinfo.middleware.AuthenticationMiddleware",
    # After auth (a signed-in person's saved language wins) and before messages, whose
    # translated texts are written out when the response passes back through it.
    "customerinfo.middleware.LocaleMiddleware",
    "customerinfo.middleware.MessageMiddleware",
    "customerinfo.middleware.HtmxMiddleware",
    # A suspended retailer's portal is read-only but for billing; tablets are let through.
    "billing.middleware.BillingAccessMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "customerinfo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing.middleware.billing_banner",
            ],
        },
    }
]

WSGI_APPLICATION = "customerinfo.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if ENVIRONMENT == "test":
    # Hashing passwords the production way would dominate the suite's run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal-home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Each language named in itself: that is how a reader finds theirs in the chooser.
LANGUAGES = [("en", "English"), ("fr", "Français"), ("es", "Español")]
# Catalogs of customerinfo/ (its templates, the kernel, accounts); each other app keeps its own
# <app>/locale, which Django finds by itself. README, "Translations", says how to update them.
LOCALE_PATHS = [BASE_DIR / "customerinfo" / "locale"]
# A signed-out reader's choice is kept a year (Django's default would end with the browser).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE: Literal["Lax", "Strict", "None", False] = "Lax"
# English short dates year first (customerinfo/formats/en); French and Spanish are Django's own.
FORMAT_MODULE_PATH = ["customerinfo.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Outside production, serve static files straight from their folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "customerinfo.core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser lets RecursionError (a deeply nested body) through as a 500.
    "DEFAULT_PARSER_CLASSES": ["customerinfo.core.parsers.SafeJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        # A tablet sends one sign-up per shopper plus a heartbeat a minute; draining an offline
        # queue is what needs the headroom.
        "device": env.str("KIOSK_RATE_LIMIT", default="120/min"),
        "pairing": env.str("PAIRING_RATE_LIMIT", default="10/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CustomerInfo kiosk API",
    "DESCRIPTION": "What a paired shop tablet calls. Errors are always "
    '{"error": {"code", "message", "fields"}} with a stable code.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

"""django-tenants: which apps live in the public schema and which in every tenant's schema."""

import os

from .environment import env

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "billing",
    "outbox",
    "operations",
    "customerinfo.core.accounts",
    # Failed sign-ins of every shop, in public, keyed by shop (settings/people.py).
    "axes",
    # Two-factor devices sit beside the users table, which public has too (the operators'):
    # without them there, the operator's admin would list tables that do not exist.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
]

TENANT_APPS = [
    # Retailer users and their sessions live in the retailer's own schema, so no query of one
    # retailer's portal can ever read another's accounts.
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "customerinfo.core.accounts",
    # Two-factor devices belong to users, so they live beside them in each shop's schema.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "customerinfo.core",
    "signup",
    "crm_sync",
]

#: SQL functions that the tenant apps' migrations create in every tenant's schema. Statements
#: that name their schema (customerinfo.core.db) name these in it too, as they do the tables.
TENANT_SQL_FUNCTIONS = ["signup_day_zone"]

INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "customerinfo.urls_public"
ROOT_URLCONF = "customerinfo.urls_tenants"

#: Tenants are served at ``<slug>.<BASE_DOMAIN>``; the bare domain is the public site.
BASE_DOMAIN: str = env.str("BASE_DOMAIN", default="localhost")

#: The schema every new tenant is cloned from (kept migrated by ``migrate_tenants``).
TENANT_TEMPLATE_SCHEMA: str = env.str("TENANT_TEMPLATE_SCHEMA", default="tenant_template")

#: Set the search path only when the schema changes, and only before an ORM query: each request
#: switches schema once, so this saves a round trip per query, and the kiosk's sign-up, which
#: names its schema (customerinfo.core.db), sends none at all. Code that changes the search path
#: itself (tenants.schemas.schema_clone, the sign-up inside a transaction) tells django-tenants to
#: set it again.
TENANT_LIMIT_SET_CALLS = True

#: How many worker processes ``migrate_tenants`` runs, each migrating schema after schema. The
#: default follows the cores this process may use, 2 to 4: a container sees all of its node's
#: cores, and more workers than that would mostly wait on PostgreSQL and hold its connections.
TENANT_MIGRATION_WORKERS: int = env.int(
    "TENANT_MIGRATION_WORKERS", default=min(4, max(2, len(os.sched_getaffinity(0))))
)

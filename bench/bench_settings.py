"""Project settings plus one extra tenant app whose migrations bench/tenants.py writes."""

import os

from customerinfo.settings import *  # noqa: F403
from customerinfo.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "bench.benchapp"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
# The migrations live in a scratch folder so the bench never writes into the source tree.
MIGRATION_MODULES = {"benchapp": os.environ.get("BENCH_MIGRATIONS_MODULE", "bench_migrations")}

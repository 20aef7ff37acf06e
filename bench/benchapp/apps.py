from django.apps import AppConfig


class BenchAppConfig(AppConfig):
    """A tenant app that exists only in bench/tenants.py, to time a release with a migration."""

    name = "bench.benchapp"
    label = "benchapp"

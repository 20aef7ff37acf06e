from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # The host maps of every process learn of each change to a tenant or domain.
        from .signals import hosts_signals_connect

        hosts_signals_connect()

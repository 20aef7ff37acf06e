from django.apps import AppConfig


class CrmSyncConfig(AppConfig):
    """Tenant app: CRM destinations, the delivery outbox, relay and one module per provider."""

    name = "crm_sync"
    verbose_name = "CRM sync"

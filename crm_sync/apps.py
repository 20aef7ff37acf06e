from django.apps import AppConfig


class CrmSyncConfig(AppConfig):
    """Tenant app: a retailer's CRM destinations and the providers that deliver to them.

    The outbox itself lives in the shared app crm_sync.outbox (public schema).
    """

    name = "crm_sync"
    verbose_name = "CRM sync"

from django.apps import AppConfig


class CrmSyncConfig(AppConfig):
    """Tenant app: a retailer's CRM destinations and the providers that deliver to them.

    The outbox itself lives in the shared app ``outbox`` (public schema).
    """

    name = "crm_sync"
    verbose_name = "CRM sync"

    def ready(self) -> None:
        # Registers the sending task in every process, web included: the outbox, which cannot
        # import crm_sync, wakes it by name for a requeued sign-up (outbox.services.DELIVER_TASK).
        from . import tasks  # noqa: F401

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """Shared app: the delivery outbox, in the public schema.

    Deliveries of every tenant sit in one table so that the relay finds every due row with one
    query instead of one scan per schema. They hold ids only, never a shopper's data.
    """

    name = "outbox"
    label = "crm_outbox"
    verbose_name = "CRM delivery outbox"

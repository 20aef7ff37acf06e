from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Shared app: Stripe customers and subscriptions, usage reports and period close."""

    name = "billing"
    verbose_name = "Billing"

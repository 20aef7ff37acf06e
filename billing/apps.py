from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Shared app: Stripe customers and subscriptions, usage reports and period close."""

    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from signup.signals import tablets_changed

        from . import receivers

        tablets_changed.connect(receivers.tablets_changed, dispatch_uid="billing.seats")

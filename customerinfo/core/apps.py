from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Tenant app for the kernel's one model, the audit trail, kept in each retailer's schema."""

    name = "customerinfo.core"
    label = "core"
    verbose_name = "Core"

from django.apps import AppConfig


class SignupConfig(AppConfig):
    """Tenant app: forms, locations, devices, submissions and consent evidence; kiosk and portal."""

    name = "signup"
    verbose_name = "Shopper sign-up"

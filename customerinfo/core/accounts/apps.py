from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "customerinfo.core.accounts"
    label = "accounts"
    verbose_name = "Accounts"

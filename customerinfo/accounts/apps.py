from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "customerinfo.accounts"
    label = "accounts"
    verbose_name = "Accounts"

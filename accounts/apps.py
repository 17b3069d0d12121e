from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's own app is already "Accounts" in the admin (e-mail addresses).
    verbose_name = "People"

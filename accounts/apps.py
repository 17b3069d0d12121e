from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_migrate


def name_the_site(using: str = "default", **kwargs: Any) -> None:
    """Site 1 is Framecraft at its own domain, not Django's "example.com": allauth's e-mails
    take both from it. Run after every migrate (and every test flush), so a changed setting
    takes effect on the next deploy."""
    site_model = apps.get_model("sites", "Site")
    site_model.objects.using(using).update_or_create(
        pk=settings.SITE_ID,
        defaults={"name": settings.FRAMECRAFT_SITE_NAME, "domain": settings.FRAMECRAFT_SITE_DOMAIN})


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's own app is already "Accounts" in the admin (e-mail addresses).
    verbose_name = "People"

    def ready(self) -> None:
        # After the sites app's own handler (listed before this app), which makes the row.
        post_migrate.connect(name_the_site, sender=apps.get_app_config("sites"),
                             dispatch_uid="accounts.name_the_site")

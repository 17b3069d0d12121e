from typing import Any

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.profile_sections import add_profile_section
        from api import webhooks
        from api.profile_views import webhooks_context
        from generation.events import job_changed

        def on_job_changed(sender: Any, owner_id: int, job_id: Any, change: str,
                           **kwargs: Any) -> None:
            webhooks.job_event(owner_id, job_id, change)

        job_changed.connect(on_job_changed, weak=False, dispatch_uid="api.webhooks")
        add_profile_section(webhooks_context)

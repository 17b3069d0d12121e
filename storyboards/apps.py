from django.apps import AppConfig


class StoryboardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "storyboards"

    def ready(self) -> None:
        # A shot's job finishing (its Video saved) moves the storyboard's render on.
        from storyboards import render  # noqa: F401 (connects its receiver)

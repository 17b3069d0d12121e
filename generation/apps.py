from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # Connects the signal that removes a deleted video's files from storage.
        from generation import gallery  # noqa: F401

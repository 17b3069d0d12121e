from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # Connect the signals that remove a deleted video's or upload's files from storage.
        from generation import gallery, uploads  # noqa: F401

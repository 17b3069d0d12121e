from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # Connect the signals that remove a deleted video's, upload's or cutout's files.
        from generation import gallery, subjects, uploads  # noqa: F401

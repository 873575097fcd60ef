# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "dhnet.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.jobs import builtin

        builtin.register()

# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "dhnet.signals"
    label = "signals"
    verbose_name = "Signals and events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.signals import jobs

        jobs.register()

# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "dhnet.cases"
    label = "cases"
    verbose_name = "Case-based surveillance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.cases import receivers

        receivers.connect()

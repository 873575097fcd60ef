# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "dhnet.consent"
    label = "consent"
    verbose_name = "Consent and the person's rights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.consent import receivers

        receivers.connect()

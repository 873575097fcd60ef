# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "dhnet.identity"
    label = "identity"
    verbose_name = "Identity vault"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.identity import checks, jobs  # noqa: F401  (checks registers the deployment check)

        jobs.register()

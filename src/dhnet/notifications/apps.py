# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "dhnet.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dhnet.notifications import queue, receivers

        receivers.connect()
        queue.register()

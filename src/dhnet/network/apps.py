from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "dhnet.network"
    label = "network"
    verbose_name = "Network of networks (stakeholders, communities, events)"
    default_auto_field = "django.db.models.BigAutoField"

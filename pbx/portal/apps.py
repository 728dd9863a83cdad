from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "pbx.portal"
    label = "portal"
    verbose_name = "Self-service portal"

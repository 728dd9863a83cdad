from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "pbx.engine"
    label = "engine"
    verbose_name = "Signaling engine"

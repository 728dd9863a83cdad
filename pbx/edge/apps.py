from django.apps import AppConfig


class EdgeConfig(AppConfig):
    name = "pbx.edge"
    label = "edge"
    verbose_name = "SIP edge security"

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "pbx.demo"
    label = "demo"
    verbose_name = "Demo data"

from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "pbx.tokens"
    label = "tokens"
    verbose_name = "API sessions"

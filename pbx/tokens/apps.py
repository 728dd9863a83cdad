from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "pbx.tokens"
    label = "tokens"
    verbose_name = "API sessions"

    def ready(self) -> None:
        from pbx.tokens import schema  # noqa: F401 - registers the OpenAPI extension

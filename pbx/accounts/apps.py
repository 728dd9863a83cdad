from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pbx.accounts"
    label = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        from pbx.accounts import schema  # noqa: F401 - registers the OpenAPI extension

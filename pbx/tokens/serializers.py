from rest_framework import serializers

from pbx.api.serializers import StrictSerializer
from pbx.tokens.models import ApiSession


class LoginInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})
    client_name = serializers.CharField(
        max_length=80,
        required=False,
        default="",
        help_text="Shown in the session list, e.g. 'iPhone of Ana'.",
    )
    otp = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Second factor, for accounts that use one (always tenant admins and platform "
            "staff): the 6-digit code of the authenticator app, or a recovery code (each "
            "works once). Missing: 401 `otp_required`; wrong: 401 `otp_invalid`."
        ),
    )


class RefreshInput(StrictSerializer):
    refresh_token = serializers.CharField(max_length=200)


class TokenPairOutput(serializers.Serializer):  # type: ignore[type-arg]
    token_type = serializers.CharField(default="Bearer")
    access_token = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")
    refresh_token = serializers.CharField()
    refresh_expires_at = serializers.DateTimeField()
    session_id = serializers.IntegerField()


class ApiSessionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    current = serializers.SerializerMethodField()

    class Meta:
        model = ApiSession
        fields = (
            "id",
            "client_name",
            "user_agent",
            "created_at",
            "last_refreshed_at",
            "refresh_expires_at",
            "revoked_at",
            "revoked_reason",
            "current",
        )
        read_only_fields = fields

    def get_current(self, session: ApiSession) -> bool:
        return bool(self.context.get("current_session_id") == session.pk)


class ErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    detail = serializers.CharField()


class LockedOutput(ErrorOutput):
    retry_after = serializers.IntegerField(help_text="Seconds until sign-in is possible again.")

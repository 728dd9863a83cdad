from rest_framework import serializers

from pbx.edge.models import SourceBan


class SourceBanOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    active = serializers.SerializerMethodField()
    lifted_by = serializers.SerializerMethodField()

    class Meta:
        model = SourceBan
        fields = (
            "id",
            "source_address",
            "reason",
            "banned_at",
            "until",
            "failures",
            "repeat",
            "user_agent",
            "lifted_at",
            "lifted_by",
            "active",
        )

    def get_active(self, ban: SourceBan) -> bool:
        return ban.lifted_at is None and ban.until > self.context["now"]

    def get_lifted_by(self, ban: SourceBan) -> str | None:
        return ban.lifted_by.email if ban.lifted_by else None


class SourceBanQuery(serializers.Serializer):  # type: ignore[type-arg]
    active = serializers.BooleanField(required=False, allow_null=True, default=None)

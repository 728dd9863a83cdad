"""The audit trail over the API: the strict query and the read-only output."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pbx.api.serializers import StrictSerializer
from pbx.audit.domain import SECRET_CHANGED
from pbx.audit.models import AuditEntry


class AuditQuery(StrictSerializer):
    actor = serializers.IntegerField(
        min_value=1, required=False, help_text="A user id: only this person's changes."
    )
    object_type = serializers.CharField(
        max_length=64, required=False, help_text="`app_label.model`, e.g. `devices.device`."
    )
    object_id = serializers.CharField(max_length=64, required=False)
    action = serializers.CharField(
        max_length=40,
        required=False,
        help_text="`create`, `update`, `delete`, or a named action (`revoke`, "
        "`rotate_secret`, `pin_reset`, `offboard`, ...).",
    )
    since = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError(
                {"until": serializers.ErrorDetail("Must be after since.", code="before_since")}
            )
        return attrs


class AuditListQuery(AuditQuery):
    limit = serializers.IntegerField(min_value=1, required=False, help_text="At most 500.")
    offset = serializers.IntegerField(min_value=0, required=False)


class AuditActorOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(
        source="actor_id", allow_null=True, help_text="Null for the engine and the system."
    )
    name = serializers.CharField(
        source="actor_label", help_text="The e-mail at the time, or `engine` / `system`."
    )


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"before": {}, "after": {}},
                    "required": ["before", "after"],
                },
                {"type": "string", "enum": [SECRET_CHANGED]},
            ]
        },
    }
)
class ChangesField(serializers.JSONField):
    """`{field: {before, after}}`, a secret as the marker string."""


class AuditEntryOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    actor = AuditActorOutput(source="*")
    changes = ChangesField(
        help_text="The changed fields only: `{field: {before, after}}`; a secret that changed "
        'is the string `"[secret changed]"`, never its value or hash.'
    )

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "at",
            "actor",
            "channel",
            "credential",
            "api_session_id",
            "address",
            "object_type",
            "object_id",
            "object_repr",
            "action",
            "changes",
        )
        read_only_fields = fields

"""Call history over the API (`GET /api/v1/calls[/{id}]`): the strict query parameters and the
read-only output. The rows come from `routing.selectors.call_list`, which the portal's Calls page
reads too."""

from typing import Any

from rest_framework import serializers

from devices.models import Device
from devices.selectors import device_list
from pbx.api.permissions import acting_tenant, acting_user
from pbx.api.serializers import IdField, StrictSerializer
from pbx.directory.models import User
from pbx.directory.selectors import user_list
from pbx.object_ids import parse_id
from routing.models import Call
from routing.selectors import DEVICE_OUTCOMES


class CallSeenFromQuery(StrictSerializer):
    """Query of a call's detail: unknown parameters are refused like unknown fields."""

    device = IdField(
        min_value=1,
        required=False,
        help_text="See the calls as this device saw them (`device_outcome`). Members: one of "
        "their own devices; tenant admins: any device of the organisation. Any other id is "
        "refused (400, `does_not_exist`).",
    )

    def validate_device(self, value: int) -> Device:
        request = self.context["request"]
        found = (
            device_list(tenant=acting_tenant(request), actor=acting_user(request))
            .filter(pk=value)
            .first()
        )
        if found is None:
            raise serializers.ValidationError("No such device.", code="does_not_exist")
        return found


class CallListQuery(CallSeenFromQuery):
    outcome = serializers.ChoiceField(choices=Call.Outcome.choices, required=False)
    since = serializers.DateTimeField(
        required=False, help_text="ISO 8601: calls that started at or after this instant."
    )
    until = serializers.DateTimeField(
        required=False, help_text="ISO 8601: calls that started before this instant."
    )
    user = serializers.CharField(
        max_length=20,
        required=False,
        help_text="`me` or a user id: only this person's calls. Members may name only "
        "themselves; any other id is refused (400, `does_not_exist`).",
    )
    limit = serializers.IntegerField(min_value=1, required=False, help_text="At most 500.")
    offset = serializers.IntegerField(min_value=0, required=False)

    def validate_user(self, value: str) -> User:
        request = self.context["request"]
        actor = acting_user(request)
        if value == "me":
            return actor
        user_id = parse_id(value)
        found = (
            user_list(tenant=acting_tenant(request), actor=actor).filter(pk=user_id).first()
            if user_id is not None
            else None
        )
        if found is None:
            raise serializers.ValidationError("No such user.", code="does_not_exist")
        return found

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError(
                {"until": serializers.ErrorDetail("Must be after since.", code="before_since")}
            )
        user, device = attrs.get("user"), attrs.get("device")
        if user is not None and device is not None and device.user_id != user.pk:
            raise serializers.ValidationError(
                {
                    "device": serializers.ErrorDetail(
                        "Not a device of this user.", code="not_users_device"
                    )
                }
            )
        return attrs


class BlankAsNullCharField(serializers.CharField):
    """Stored blank (`""`: none), shown as null."""

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) or None


class CallerOutput(serializers.Serializer):  # type: ignore[type-arg]
    number = BlankAsNullCharField(
        source="caller",
        allow_null=True,
        help_text="E.164 or an extension of the organisation; null when withheld.",
    )
    display_name = serializers.CharField(
        source="caller_display_name",
        allow_null=True,
        help_text="The caller's display name when the caller is an extension of the organisation.",
    )


class CalleeOutput(serializers.Serializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField(source="callee_id")
    extension = serializers.CharField()
    display_name = serializers.SerializerMethodField(
        help_text="The called extension's display name (else the person's name)."
    )

    def get_display_name(self, call: Call) -> str:
        return str(getattr(call, "callee_display_name", None) or call.callee.full_name)


class CallDeviceOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    user_id = serializers.IntegerField(
        help_text="Whose device: a colleague's when the plan rang their extension."
    )

    class Meta:
        model = Device
        fields = ("id", "label", "kind", "user_id")
        read_only_fields = fields


class CallOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    """One call to a person. Read from `routing.selectors.call_list` (it annotates the
    display names and `device_outcome`)."""

    caller = CallerOutput(source="*")
    callee = CalleeOutput(source="*")
    duration_seconds = serializers.SerializerMethodField(
        help_text="Length of the conversation; null until an answered call has ended."
    )
    answered_device = CallDeviceOutput(
        allow_null=True,
        help_text="Null when nobody answered, or no known device did (an outside number).",
    )
    device_outcome = serializers.ChoiceField(
        choices=DEVICE_OUTCOMES,
        allow_null=True,
        help_text="With `?device=`: the outcome as that device saw it; a call answered on "
        "another device reads `answered_elsewhere`. Null without `?device=`.",
    )

    class Meta:
        model = Call
        fields: tuple[str, ...] = (
            "id",
            "call_id",
            "caller",
            "callee",
            "started_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "outcome",
            "answered_device",
            "device_outcome",
        )
        read_only_fields: tuple[str, ...] = fields
        extra_kwargs = {"call_id": {"help_text": "The SIP Call-ID, as in live events and pushes."}}

    def get_duration_seconds(self, call: Call) -> int | None:
        if call.answered_at is None or call.ended_at is None:
            return None
        return round((call.ended_at - call.answered_at).total_seconds())


class CallDetailOutput(CallOutput):
    """A call with why it rang as it did: the plan, the rule and the evaluator's trace."""

    plan = BlankAsNullCharField(allow_null=True)
    rule = BlankAsNullCharField(allow_null=True, help_text="Null when no rule matched.")
    trace = serializers.ListField(child=serializers.CharField())

    class Meta(CallOutput.Meta):
        fields = (*CallOutput.Meta.fields, "plan", "rule", "reason", "final_code", "trace")
        read_only_fields = fields
